// The desk works without this file; it only adds small conveniences.
"use strict";
