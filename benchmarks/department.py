"""A synthetic police department for the benchmarks: several pages, long-tailed threads.

Repeatable from a seed. Comment counts per post follow a Pareto distribution (most posts draw a
handful of comments, a few draw hundreds), replies cluster under the busiest comments, and text is
drawn from a Zipf-weighted vocabulary of the words a department's page actually sees, so the
search index has a realistic term distribution. Between the two states some posts and comments are
edited, hidden or deleted and new comments arrive, as moderators and authors do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archiver.standins.dataset import (
    Attachment,
    Author,
    Comment,
    Edit,
    PageDataset,
    Post,
    StateChanges,
)

# Words a police department's page sees, most frequent first (Zipf weights by rank).
_WORDS = (
    "the to and a of in is for you on this it that with are be thank at please your we our "
    "police officer officers department community road closed closure traffic street main "
    "avenue tonight today tomorrow morning evening safe safety stay drive careful detour lanes "
    "missing person found help call if information contact tip tips crime prevention car "
    "locked vehicle theft burglary home neighborhood watch kids school bus crossing zone speed "
    "limit ticket parking snow weather storm emergency shelter power outage fire rescue "
    "ambulance accident crash injury injured hospital update thanks great job work appreciate "
    "support proud service protect serve chief sergeant lieutenant patrol k9 dog event festival "
    "parade fireworks july holiday coffee cop meet public meeting council city park trail bike "
    "scam phone fraud email gift cards elderly warning alert amber silver report reported "
    "suspect arrested charged court jail investigation ongoing detectives video footage camera "
    "doorbell share shared please help identify anyone seen seen last wearing jacket hat blue "
    "red black white shirt jeans shoes tall short hair male female years old age approximately "
    "why when where how what who long time wait waiting response slow fast never always again "
    "noise complaint fireworks neighbors dogs barking loud music party late night hours "
    "recruiting hiring apply join career academy training graduation congratulations welcome "
    "ride along citizens academy volunteer donation food drive toys holidays families "
    "drunk driving impaired checkpoint seatbelt click it or ticket texting distracted "
    "pedestrian crosswalk yield light signal construction bridge repair water main detour"
)
VOCABULARY = tuple(_WORDS.split())


@dataclass(frozen=True)
class Department:
    """The pages of a department in their first state, and what changes before the next."""

    pages: tuple[PageDataset, ...]
    changes: tuple[StateChanges, ...]

    @property
    def items(self) -> int:
        return sum(len(p.posts) + len(p.comments) for p in self.pages)


class _Text:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.weights = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]

    def sentence(self, low: int, high: int) -> str:
        words = self.rng.choices(VOCABULARY, self.weights, k=self.rng.randint(low, high))
        return " ".join(words).capitalize() + "."


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def generate(items: int, *, seed: int = 1, accounts: int = 3) -> Department:
    """About ``items`` posts, comments and replies over ``accounts`` pages.

    Attachments are named by path (``/media/<post>.png``): the Graph server that serves the page
    serves the files too.
    """
    rng = random.Random(seed)
    text = _Text(rng)
    visitors = [Author(id=f"7{n:09d}", name=f"{rng.choice(VOCABULARY).title()} "
                f"{rng.choice(VOCABULARY).title()} {n}") for n in range(1, 5001)]
    per_page = max(1, items // accounts)
    pages, changes = [], []
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for a in range(accounts):
        page_id = f"80000000000{a + 1:04d}"
        name = f"Synthetic PD page {a + 1}"
        author = Author(id=page_id, name=name)
        posts: list[Post] = []
        comments: list[Comment] = []
        n = 0
        while n < per_page:
            i = len(posts) + 1
            created = t0 + timedelta(hours=6 * i, minutes=a)
            pid = f"{page_id}_{i}"
            attachments: tuple[Attachment, ...] = ()
            if rng.random() < 0.05:
                attachments = (Attachment("photo", f"https://www.facebook.com/photo/{pid}",
                                          src=f"/media/{pid}.png"),)
            posts.append(Post(
                id=pid, message=text.sentence(8, 40), created_time=_stamp(created),
                updated_time=_stamp(created), author=author,
                permalink_url=f"https://www.facebook.com/{page_id}/posts/{i}",
                attachments=attachments,
            ))
            n += 1
            # Pareto-distributed thread sizes: mean about 20, a long tail of busy posts.
            count = min(per_page - n, int(rng.paretovariate(1.3) * 5) - 4)
            top: list[str] = []
            for j in range(max(0, count)):
                cid = f"{i}_{j + 1}"
                parent = None
                if top and rng.random() < 0.3:
                    parent = top[min(len(top) - 1, int(rng.expovariate(0.5)))]
                comments.append(Comment(
                    id=cid, post_id=pid, parent_id=parent, message=text.sentence(3, 30),
                    created_time=_stamp(created + timedelta(minutes=j + 1)),
                    author=rng.choice(visitors), is_hidden=rng.random() < 0.01,
                    permalink_url=f"https://www.facebook.com/{page_id}/posts/{i}?comment_id={cid}",
                ))
                if parent is None:
                    top.append(cid)
                n += 1
        page = PageDataset(page_id, name, tuple(posts), tuple(comments))
        pages.append(page)
        changes.append(_changes(rng, text, page))
    return Department(tuple(pages), tuple(changes))


def _changes(rng: random.Random, text: _Text, page: PageDataset) -> StateChanges:
    """About 1% edits, 0.5% hides, 0.5% deletions and 1% new comments."""
    comment_ids = [c.id for c in page.comments]
    post_ids = [p.id for p in page.posts]
    k = max(1, len(comment_ids) // 200)
    edited_posts = rng.sample(post_ids, max(1, len(post_ids) // 100))
    edited_comments = rng.sample(comment_ids, min(len(comment_ids), 2 * k))
    edits = tuple(Edit(i, text.sentence(8, 40) + " UPDATE", "2025-01-01T00:00:00+0000")
                  for i in edited_posts) + tuple(Edit(i, text.sentence(3, 30) + " (edited)")
                                                 for i in edited_comments)
    rest = [c for c in comment_ids if c not in set(edited_comments)]
    hide = tuple(rng.sample(rest, min(len(rest), k)))
    rest = [c for c in rest if c not in set(hide)]
    delete = tuple(rng.sample(rest, min(len(rest), k)))
    new = tuple(
        Comment(id=f"new_{page.page_id}_{n}", post_id=rng.choice(post_ids),
                message=text.sentence(3, 30), created_time="2025-01-02T00:00:00+0000",
                author=Author(id="7999999999", name="Late Commenter"))
        for n in range(2 * k)
    )
    return StateChanges(edits=edits, hide=hide, delete=delete, add_comments=new)
