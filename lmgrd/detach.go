package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// readyFDEnv names the descriptor a detached lmgrd reports its start on:
// one line, "ready" once it listens and has started its vendor daemons,
// else the error it stops with.
const readyFDEnv = "LMTRIAD_READY_FD"

// detachWait bounds how long the shell waits for the detached lmgrd.
const detachWait = 30 * time.Second

// detach starts lmgrd again in the foreground as a new session leader and
// returns, as FlexLM's lmgrd returns to the shell, once the new lmgrd
// listens (so that a script's next command finds it) or has failed (so
// that the shell is told why, and the exit code says so). Without -l the
// child's log goes nowhere, so say where it would have gone.
func detach(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find own binary to detach: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(self, append([]string{"-z"}, args[1:]...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("detach: %w", err)
	}
	w.Close() // the child holds it now: EOF when it is gone
	pid := cmd.Process.Pid
	report := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		report <- string(b)
	}()
	select {
	case msg := <-report:
		switch {
		case msg == "ready\n":
			fmt.Fprintf(os.Stdout, "lmgrd started in the background (pid %d); use -l to keep a debug log, -z to stay in the foreground\n", pid)
			return cmd.Process.Release()
		case msg != "":
			_ = cmd.Wait()
			return fmt.Errorf("%s", msg)
		default:
			_ = cmd.Wait()
			return fmt.Errorf("lmgrd stopped before it was ready (see its debug log, -l)")
		}
	case <-time.After(detachWait):
		fmt.Fprintf(os.Stdout, "lmgrd started in the background (pid %d), not ready after %v; see its debug log (-l)\n", pid, detachWait)
		return cmd.Process.Release()
	}
}

// readyReporter is the pipe a detached lmgrd reports its start on (nil
// when it was not started by detach).
func readyReporter() *os.File {
	fd, err := strconv.Atoi(os.Getenv(readyFDEnv))
	if err != nil || fd < 3 {
		return nil
	}
	os.Unsetenv(readyFDEnv) // not for the vendor daemons
	return os.NewFile(uintptr(fd), "ready")
}

// reportReady tells the waiting shell that lmgrd is up, or why it stops.
func reportReady(f *os.File, err error) {
	if f == nil {
		return
	}
	if err == nil {
		_, _ = f.WriteString("ready\n")
	} else {
		_, _ = f.WriteString(err.Error() + "\n")
	}
	f.Close()
}
