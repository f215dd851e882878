// Command screenpopd is the screenpop daemon: it follows inbound calls on
// an Asterisk PBX through ARI, logs every call, and pops the caller's card
// on the operator's screen.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "screenpopd:", err)
		os.Exit(1)
	}
}
