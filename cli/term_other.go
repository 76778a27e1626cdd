//go:build !linux

package cli

import "io"

// isTerminal reports false: off Linux, db drop asks for --yes instead of a
// typed confirmation.
func isTerminal(io.Reader) bool { return false }
