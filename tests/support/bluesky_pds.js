// Bluesky's reference PDS with an in-process PLC directory, both on loopback and offline
// (@atproto/dev-env's TestNetworkNoAppView). Makes an account, an app password, a post that is
// kept and one that is deleted, prints one JSON line, and runs until its stdin closes.
const { TestNetworkNoAppView } = require('@atproto/dev-env')

const main = async () => {
  const net = await TestNetworkNoAppView.create({})
  const agent = net.pds.getClient()
  await agent.createAccount({
    handle: 'springfieldpd.test', email: 'pio@example.invalid', password: 'main-password-unused',
  })
  const made = await agent.com.atproto.server.createAppPassword({ name: 'archiver' })
  const kept = await agent.post({ text: 'Road closure on Main St <script>alert(1)</script>' })
  const deleted = await agent.post({ text: 'A post the department deleted' })
  await agent.deletePost(deleted.uri)
  process.stdout.write(JSON.stringify({
    url: net.pds.url.replace('localhost', '127.0.0.1'), did: agent.session.did,
    handle: agent.session.handle, appPassword: made.data.password,
    kept: kept.uri, deleted: deleted.uri,
  }) + '\n')
  process.stdin.resume()
  process.stdin.on('end', async () => {
    await net.close()
    process.exit(0)
  })
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n')
  process.exit(1)
})
