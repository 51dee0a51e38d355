package proxy

import "syscall"

// syscallEMFILE is "too many open files": accept can succeed again once
// sessions close, so Serve backs off instead of failing.
var syscallEMFILE = syscall.EMFILE
