// Command zapbase is the WhatsApp sidecar for Supabase.
//
//	zapbase serve     run the service (migrations applied at start)
//	zapbase dev       zero-configuration local mode (embedded Postgres, sandbox provider)
//	zapbase migrate   apply database migrations and exit
//	zapbase doctor    check the database and Supabase project before going live
//
// This file only wires components together; behaviour lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "zapbase:", err)
		os.Exit(1)
	}
}

const usage = `uso: zapbase <comando>

comandos:
  serve     executa o serviço (aplica as migrações ao iniciar)
  dev       modo local sem configuração: Postgres embutido, provedor sandbox, tenant demo
  migrate   aplica as migrações do banco e sai (migrate force N: marca a versão N, sem "dirty")
  doctor    verifica o banco e o projeto Supabase antes de ir para produção
`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("informe um comando")
	}
	switch args[0] {
	case "serve":
		cfg, err := LoadConfig(os.Getenv, nil)
		if err != nil {
			return err
		}
		return serve(ctx, cfg)
	case "dev":
		return dev(ctx, args[1:])
	case "migrate":
		return migrateCmd(ctx, args[1:])
	case "doctor":
		return doctorCmd(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("comando desconhecido: %q", args[0])
	}
}

func serve(ctx context.Context, cfg Config) error {
	m := NewMain(cfg)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	<-ctx.Done()
	return m.Close()
}
