package main_test

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"github.com/uno-db/uno/internal/pgtest"
)

// TestDropConfirmation: on a terminal, db drop asks for the database name;
// a wrong name refuses (exit 3) and keeps the database, the right one drops
// it.
func TestDropConfirmation(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + db.URL}
	expect(t, uno(t, env, "db", "create"), 0, "ready")
	admin := pgtest.AdminURL(t)
	exists := func() bool {
		return pgtest.Scalar[bool](t, admin, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db.Name)
	}

	typed := func(answer string) result {
		master, tty := openPTY(t)
		defer master.Close()
		defer tty.Close()
		go func() { _, _ = io.Copy(io.Discard, master) }() // the terminal's echo
		if _, err := master.Write([]byte(answer + "\n")); err != nil {
			t.Fatal(err)
		}
		return run{env: env, stdin: tty}.do(t, "db", "drop")
	}
	r := typed(db.Name + "_not")
	expect(t, r, 3, "Type the database name to confirm", "does not match", db.Name+" kept")
	if !exists() {
		t.Fatal("a wrong confirmation dropped the database")
	}
	expect(t, typed(db.Name), 0, "Type the database name to confirm", "dropped")
	if exists() {
		t.Fatal("the confirmed drop left the database")
	}
}

// openPTY opens a pseudo-terminal pair: the master end the test types
// into, and the terminal end a command reads from.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ioctl := func(req uintptr, arg unsafe.Pointer) {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), req, uintptr(arg)); errno != 0 {
			master.Close()
			t.Fatalf("ioctl %#x on /dev/ptmx: %v", req, errno)
		}
	}
	var unlock int32
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	return master, tty
}
