//go:build unix

package main

import (
	"fmt"
	"os"
	"os/user"
	"syscall"
)

// checkStoreOwner refuses to run as root on an embedded store that
// belongs to another user (the service's): files root made there (the
// store itself, its journal) would lock the service out of its own store.
func checkStoreOwner(cfg Config) error {
	if cfg.DSN != "" || os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(cfg.DataDir)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	name := fmt.Sprint(st.Uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("%s belongs to user %s, the service's: run this as that user (sudo -u %s screenpopd ...), not as root", cfg.DataDir, name, name)
}
