"""General Order 80.11 at work: comment monitoring and the review queue, page-compliance checks,
capture-health notices and the monthly activity report.

* :mod:`.rules`: the rule file (word lists, personal-information patterns, links, blocked
  authors, the department's own posts; what a page must state), validated with file and line;
* :mod:`.matching`: where a rule matches a text (on its normalized spelling);
* :mod:`.flags`: :func:`~.flags.flag_items` runs the rules on stored items and fills the queue;
* :mod:`.review`: the queue, the reviewer's decision (an audit event) and an item's review
  history;
* :mod:`.policy`: each account's public profile against the page requirements;
* :mod:`.notices`, :mod:`.health`, :mod:`.reports`: what is sent to staff, and when.

Nothing here changes a captured record: flags and decisions sit beside it.
"""
