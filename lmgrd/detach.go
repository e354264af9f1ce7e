package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// detach starts lmgrd again in the foreground as a new session leader and
// returns, as FlexLM's lmgrd returns to the shell. Without -l the child's
// log goes nowhere, so say where it would have gone.
func detach(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find own binary to detach: %w", err)
	}
	cmd := exec.Command(self, append([]string{"-z"}, args[1:]...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	fmt.Fprintf(os.Stdout, "lmgrd started in the background (pid %d); use -l to keep a debug log, -z to stay in the foreground\n", cmd.Process.Pid)
	return cmd.Process.Release()
}
