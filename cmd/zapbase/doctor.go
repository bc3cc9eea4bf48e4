package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/zapbase/zapbase/doctor"
)

// errDoctorBlocking makes `zapbase doctor` exit non-zero without a second
// message (the report already says what is wrong).
var errDoctorBlocking = errors.New("o doctor encontrou problemas bloqueantes")

// readyProbeTimeout bounds `zapbase doctor --ready-url` (container health
// checks run it every few seconds).
const readyProbeTimeout = 3 * time.Second

// doctorCmd runs `zapbase doctor`:
//
//	zapbase doctor                 checks DATABASE_URL & co. and prints the pt-BR report
//	zapbase doctor --json          the same report as JSON
//	zapbase doctor --ready-url U   only probes U (GET, expects 200): the container
//	                               HEALTHCHECK, as the distroless image has no curl
func doctorCmd(ctx context.Context, args []string) error {
	return runDoctor(ctx, args, os.Getenv, os.Stdout)
}

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "imprime o relatório em JSON")
	readyURL := fs.String("ready-url", "", "só verifica se a URL responde 200 (health check do contêiner)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *readyURL != "" {
		return probeReady(ctx, *readyURL)
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if env("DATABASE_URL") == "" {
		return &configError{Var: "DATABASE_URL", Msg: "obrigatória (a URL do banco a verificar)"}
	}
	report := doctor.Run(ctx, doctor.Params{
		DatabaseURL:    env("DATABASE_URL"),
		ReplicationURL: env("DATABASE_REPLICATION_URL"),
		SupabaseURL:    env("SUPABASE_URL"),
		JWTSecretSet:   env("SUPABASE_JWT_SECRET") != "",
		SlotName:       env("ZAPBASE_SLOT_NAME"),
		Publication:    env("ZAPBASE_PUBLICATION"),
	})
	var err error
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if report.Blocking() {
		return errDoctorBlocking
	}
	return nil
}

func probeReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--ready-url inválida: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("serviço não respondeu: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("serviço não está pronto: HTTP %d", resp.StatusCode)
	}
	return nil
}
