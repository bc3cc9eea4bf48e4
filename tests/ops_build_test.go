package tests

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the module root (tests/ is one level down).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// dockerfileBuild returns the environment assignments and the argv of the
// Dockerfile's `RUN ... go build ...` line.
func dockerfileBuild(t *testing.T, dockerfile string) (env, argv []string) {
	t.Helper()
	f, err := os.Open(dockerfile)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "RUN ") || !strings.Contains(line, "go build") {
			continue
		}
		require.False(t, strings.HasSuffix(line, `\`), "keep the go build RUN on one line so the test can read it")
		words := shellWords(t, strings.TrimPrefix(line, "RUN "))
		for len(words) > 0 && strings.Contains(words[0], "=") {
			env = append(env, words[0])
			words = words[1:]
		}
		return env, words
	}
	t.Fatal("no RUN ... go build line in the Dockerfile")
	return nil, nil
}

// shellWords splits a simple shell command line (double and single quotes,
// no expansions).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			require.NotContains(t, "$`;&|<>", string(r), "the go build line must be a plain command")
			cur.WriteRune(r)
			inWord = true
		}
	}
	require.Zero(t, quote, "unbalanced quote in %q", s)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDockerfileBuildCommand runs the Dockerfile's build command (docker is
// not available here) and checks the result is a static binary that starts.
func TestDockerfileBuildCommand(t *testing.T) {
	root := repoRoot(t)
	env, argv := dockerfileBuild(t, filepath.Join(root, "Dockerfile"))
	require.Equal(t, []string{"CGO_ENABLED=0"}, env)
	require.GreaterOrEqual(t, len(argv), 3)
	require.Equal(t, []string{"go", "build"}, argv[:2])
	require.Contains(t, argv, "-trimpath")
	require.Contains(t, argv, "-s -w")
	require.Equal(t, "./cmd/zapbase", argv[len(argv)-1])

	out := filepath.Join(t.TempDir(), "zapbase")
	args := append([]string(nil), argv[1:]...)
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	require.Contains(t, args, out, "the build line must name its output with -o")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)

	// Static: no program interpreter, no dynamic section (distroless/static).
	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "binary is dynamically linked")
	}
	require.Nil(t, f.Section(".dynamic"), "binary has a dynamic section")
	// Stripped (-s -w): no DWARF, no symbol table.
	require.Nil(t, f.Section(".debug_info"))
	require.Nil(t, f.Section(".symtab"))

	help, err := exec.Command(out, "help").CombinedOutput()
	require.NoError(t, err, "%s", help)
	require.Contains(t, string(help), "uso: zapbase")
	require.Contains(t, string(help), "doctor")
}

func TestDockerfileRuntime(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	df := string(b)
	require.Contains(t, df, "FROM golang:1.26")
	require.Contains(t, df, "FROM gcr.io/distroless/static-debian12:nonroot")
	require.Contains(t, df, "USER nonroot:nonroot")
	require.Contains(t, df, `CMD ["/zapbase", "doctor", "--ready-url", "http://127.0.0.1:8080/readyz"]`)
	require.Contains(t, df, "STOPSIGNAL SIGTERM")
	require.Contains(t, df, `ENTRYPOINT ["/zapbase"]`)
}
