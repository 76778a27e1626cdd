package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// server is a throwaway PostgreSQL cluster the tests of every mutant share,
// started when UNO_TEST_DATABASE_URL is not set.
type server struct {
	bin, dir string
	cred     *syscall.Credential
}

// startServer initializes and starts a cluster under a new temporary
// directory (as the user nobody when run as root) and returns it with its
// admin URL.
func startServer() (*server, string, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "mutate-pg-")
	if err != nil {
		return nil, "", err
	}
	s := &server{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, "", fmt.Errorf("running as root and no user nobody to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, "", err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8"); err != nil {
		s.stop()
		return nil, "", fmt.Errorf("initdb: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	if out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o", opts, "start"); err != nil {
		s.stop()
		return nil, "", fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return s, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func (s *server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// stop stops the cluster and removes its directory.
func (s *server) stop() {
	_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(s.dir)
}

// pgBin finds the directory of initdb and pg_ctl: on PATH, else the newest
// Debian-style /usr/lib/postgresql/N/bin.
func pgBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return "", fmt.Errorf("initdb not found: install PostgreSQL or set UNO_TEST_DATABASE_URL")
	}
	return filepath.Dir(m[len(m)-1]), nil
}
