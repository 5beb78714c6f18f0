"""How dates and times read in English, overriding Django's (FORMAT_MODULE_PATH):
the one format of the admin's lists (bots.admin.base.local_time), "Wed 02 Dec
2026, 01:45 UTC", also for every value Django renders itself, such as a
read-only field or a template's {{ post.published_at }}. Django always
localizes, so the settings of the same names would be ignored.

What forms accept (the *_INPUT_FORMATS) is left as Django's English."""

DATETIME_FORMAT = "D d M Y, H:i T"
DATE_FORMAT = "D d M Y"
TIME_FORMAT = "H:i"
