"""Messages to staff: e-mail over SMTP (:mod:`.mail`) and a JSON webhook (:mod:`.webhook`),
configured from the environment (:mod:`.settings`). A message (:mod:`.message`) is plain data;
what to say, and when, is decided above this room (:mod:`archiver.monitoring.notices`)."""
