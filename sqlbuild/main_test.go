package sqlbuild_test

import (
	"testing"

	"github.com/uno-db/uno/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
