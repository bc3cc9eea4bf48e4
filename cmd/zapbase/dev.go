package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/store"
	"github.com/zapbase/zapbase/supabase/devdb"
)

// Dev-mode constants: the demo tenant and its member user.
const (
	devClientID  = "demo"
	devUserEmail = "dev@zapbase.local"
	// devColleagueEmail is a second auth user, member of no tenant, so the
	// admin "add member" example has someone to add.
	devColleagueEmail = "colega@zapbase.local"
	devJWTIssuer      = "zapbase-dev"
	devSandboxFrom    = "5511900000000"
	devTokenTTL       = 30 * 24 * time.Hour
)

// devState is kept in .zapbase/dev.json so a second run reuses the same
// database port, secrets and user.
type devState struct {
	PGPort        int    `json:"pgPort"`
	JWTSecret     string `json:"jwtSecret"`
	EncryptionKey string `json:"encryptionKey"`
	AdminToken    string `json:"adminToken"`
	WebhookSecret string `json:"supabaseWebhookSecret"`
	UserID        string `json:"userId"`
	ColleagueID   string `json:"colleagueUserId"`
}

func dev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dir := fs.String("dir", ".zapbase", "diretório dos dados locais (Postgres, segredos, mídia)")
	addr := fs.String("addr", "127.0.0.1:8080", "endereço HTTP (somente localhost por padrão)")
	pgPort := fs.Int("pg-port", -1, "porta do Postgres embutido (0 escolhe uma livre; padrão: a da última execução, ou 54330)")
	fs.SetOutput(os.Stdout)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "uso: zapbase dev [opções]\n\nModo local sem configuração: Postgres embutido, provedor sandbox, tenant demo.\n\nopções:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // --help is an answer, not an error
		}
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("criar %s: %w", *dir, err)
	}
	st, err := loadDevState(filepath.Join(*dir, "dev.json"), *pgPort)
	if err != nil {
		return err
	}
	fmt.Println("zapbase dev: iniciando o Postgres embutido em", filepath.Join(*dir, "pgdata"), "...")
	srv, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(*dir, "pgdata"), Port: st.PGPort})
	if err != nil {
		return fmt.Errorf("postgres embutido: %w", err)
	}
	defer srv.Stop()
	dbURL := srv.URL("postgres")
	if err := devdb.ApplyCompat(ctx, dbURL); err != nil {
		return err
	}
	if err := migrations.Up(dbURL); err != nil {
		return err
	}
	if err := seedDev(ctx, dbURL, st); err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}

	defaults := map[string]string{
		"DATABASE_URL":                    dbURL,
		"SUPABASE_JWT_SECRET":             st.JWTSecret,
		"SUPABASE_JWT_ISSUER":             devJWTIssuer,
		"ZAPBASE_ENCRYPTION_KEY":          st.EncryptionKey,
		"ZAPBASE_ADMIN_TOKEN":             st.AdminToken,
		"ZAPBASE_SUPABASE_WEBHOOK_SECRET": st.WebhookSecret,
		"ZAPBASE_HTTP_ADDR":               *addr,
		"ZAPBASE_SANDBOX":                 "true",
		"ZAPBASE_MEDIA_DIR":               filepath.Join(*dir, "media"),
		"ZAPBASE_INSTANCE_ID":             "dev",
		// Outgoing webhooks may reach receivers on this machine (n8n on localhost).
		"ZAPBASE_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8,::1",
	}
	cfg, err := LoadConfig(os.Getenv, defaults)
	if err != nil {
		return err
	}
	token, err := devToken(st.UserID, devUserEmail, st.JWTSecret, cfg.JWTIssuer)
	if err != nil {
		return err
	}
	colleagueToken, err := devToken(st.ColleagueID, devColleagueEmail, st.JWTSecret, cfg.JWTIssuer)
	if err != nil {
		return err
	}
	m := NewMain(cfg)
	m.pairingOut = os.Stdout // WhatsApp Web QR codes in the terminal
	m.devConsole = true
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	printDevBanner(devBanner{DB: dbURL, Base: "http://" + m.Addr(), Token: token, ColleagueToken: colleagueToken, State: st, Dir: *dir})
	<-ctx.Done()
	fmt.Println("\nzapbase dev: encerrando...")
	err = m.Close()
	if serr := srv.Stop(); serr != nil && err == nil {
		err = serr
	}
	return err
}

func loadDevState(path string, pgPort int) (*devState, error) {
	st := &devState{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("ler %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}
	changed := false
	if pgPort >= 0 && st.PGPort != pgPort && !(pgPort == 0 && st.PGPort != 0) {
		st.PGPort = pgPort
		changed = true
	}
	if pgPort == 0 && st.PGPort == 0 {
		changed = true
		if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			st.PGPort = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
	}
	if st.PGPort == 0 || !portFree(st.PGPort) {
		st.PGPort = 54330
		if !portFree(st.PGPort) {
			st.PGPort = 0 // devdb picks a free one; remembered below
			if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
				st.PGPort = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
		}
		changed = true
	}
	if st.JWTSecret == "" {
		st.JWTSecret = randomHex(32)
		changed = true
	}
	if st.EncryptionKey == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		st.EncryptionKey = base64.StdEncoding.EncodeToString(k)
		changed = true
	}
	if st.AdminToken == "" {
		st.AdminToken = "zb_admin_" + randomHex(20)
		changed = true
	}
	if st.WebhookSecret == "" {
		st.WebhookSecret = randomHex(24)
		changed = true
	}
	if st.UserID == "" {
		st.UserID = uuid.NewString()
		changed = true
	}
	if st.ColleagueID == "" {
		st.ColleagueID = uuid.NewString()
		changed = true
	}
	if changed {
		b, _ := json.MarshalIndent(st, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("gravar %s: %w", path, err)
		}
	}
	return st, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seedDev creates (once) the demo tenant, its member user, a sandbox
// session (so a row inserted with psql walks to `read` with no set-up) and
// a second auth user who belongs to no tenant yet.
func seedDev(ctx context.Context, dbURL string, st *devState) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	seed := store.On(conn).DevSeed()
	if err := seed.SeedDemoTenant(ctx, store.SeedDemoTenantParams{
		ClientID: devClientID, OwnerID: st.UserID, OwnerEmail: devUserEmail, SessionPhone: devSandboxFrom,
	}); err != nil {
		return err
	}
	return seed.SeedAuthUser(ctx, st.ColleagueID, devColleagueEmail)
}

func devToken(userID, email, secret, issuer string) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":   userID,
		"email": email,
		"role":  "authenticated",
		"aud":   "authenticated",
		"iss":   issuer,
		"iat":   now.Unix(),
		"exp":   now.Add(devTokenTTL).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// devBanner is what the dev banner prints.
type devBanner struct {
	DB, Base, Token, ColleagueToken, Dir string
	State                                *devState
}

func printDevBanner(b devBanner) {
	fmt.Printf(`
zapbase dev pronto ✅

  Console:        %[1]s/console#token=%[3]s
  API:            %[1]s
  Documentação:   %[1]s/docs
  Saúde:          %[1]s/readyz
  Banco (psql):   %[2]s
  Tenant demo:    client_id=demo (sessão sandbox %[5]s)
  Token admin:    %[4]s

JWT de desenvolvimento (usuário dono do tenant demo, HS256, válido por 30 dias):
%[3]s

Segundo usuário (%[8]s, id %[7]s), ainda sem tenant; JWT:
%[9]s

Experimente (a linha export define tudo o que o README usa):

  export DB='%[2]s' ADMIN=%[4]s ZB=%[1]s TOKEN=%[3]s COLEGA=%[7]s COLEGA_TOKEN=%[9]s

  curl -s $ZB/readyz

  curl -s -X POST $ZB/api/v1/messages/text \
    -H "Authorization: Bearer $TOKEN" -H "X-Client-Id: demo" -H "Content-Type: application/json" \
    -d '{"to": "5511988887777", "content": "Olá do zapbase!", "provider": "auto"}'

  psql "$DB" -c "insert into messages (tenant_id, to_number, message_type, content)
    select id, '5511988887777', 'text', '{\"text\": \"Oi pelo psql\"}' from tenants where client_id = 'demo'"

  psql "$DB" -c "select to_number, status, updated_at from messages order by created_at desc limit 5"

  # administração (token admin): adiciona o segundo usuário ao tenant demo
  curl -s -X POST $ZB/api/v1/admin/tenants/demo/members -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" -d '{"userId": "'$COLEGA'", "role": "member"}'

Ctrl-C encerra tudo; os dados ficam em %[6]s/ para a próxima execução.
`, b.Base, b.DB, b.Token, b.State.AdminToken, devSandboxFrom, b.Dir, b.State.ColleagueID, devColleagueEmail, b.ColleagueToken)
}
