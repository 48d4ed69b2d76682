package client

// MaxKeyFileSize bounds an API key file: a key is a line of a few dozen to
// a few hundred bytes, so 4 KiB leaves room for a JWT while a file
// pointed at /dev/zero or a log cannot fill memory.
const MaxKeyFileSize = 4 << 10
