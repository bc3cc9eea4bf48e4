package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/retention"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/tracing"
	"github.com/zapbase/zapbase/webhooks"
)

// Config is the whole process configuration, read once from the environment
// at start and immutable afterwards. Every variable is documented in the
// README's configuration table.
type Config struct {
	DatabaseURL           string        // DATABASE_URL (required)
	DBMaxConns            int32         // ZAPBASE_DB_MAX_CONNS (pool size; default 20)
	ReplicationURL        string        // DATABASE_REPLICATION_URL (default DATABASE_URL; must be the direct connection)
	HTTPAddr              string        // ZAPBASE_HTTP_ADDR (default 127.0.0.1:8080 in dev, :8080 otherwise)
	InstanceID            string        // ZAPBASE_INSTANCE_ID (default hostname-pid)
	PprofAddr             string        // ZAPBASE_PPROF_ADDR (default off): net/http/pprof listener
	LogLevel              slog.Level    // ZAPBASE_LOG_LEVEL (debug|info|warn|error)
	EncryptionKey         []byte        // ZAPBASE_ENCRYPTION_KEY (required; 32 bytes base64/hex)
	OldEncryptionKeys     [][]byte      // ZAPBASE_ENCRYPTION_OLD_KEYS (comma-separated, for rotation)
	SupabaseURL           string        // SUPABASE_URL (JWKS, Storage)
	JWTSecret             string        // SUPABASE_JWT_SECRET (legacy HS256)
	JWTIssuer             string        // SUPABASE_JWT_ISSUER (default SUPABASE_URL + /auth/v1)
	JWTAudience           string        // SUPABASE_JWT_AUDIENCE (default authenticated)
	SupabaseServiceKey    string        // SUPABASE_SERVICE_KEY (Storage)
	SupabasePublishable   string        // SUPABASE_PUBLISHABLE_KEY (console sign-in with Supabase Auth)
	StorageBucket         string        // ZAPBASE_STORAGE_BUCKET (default whatsapp-media)
	MediaDir              string        // ZAPBASE_MEDIA_DIR (local media store when Storage is not configured)
	AdminToken            string        // ZAPBASE_ADMIN_TOKEN (service credential for /api/v1/admin)
	SupabaseWebhookSecret string        // ZAPBASE_SUPABASE_WEBHOOK_SECRET
	PublicURL             string        // ZAPBASE_PUBLIC_URL (for callback URLs shown to users)
	Listener              bool          // ZAPBASE_LISTENER (default true)
	SlotName              string        // ZAPBASE_SLOT_NAME (default zapbase)
	Publication           string        // ZAPBASE_PUBLICATION (default zapbase_messages)
	SendWait              time.Duration // ZAPBASE_SEND_WAIT (unset: the API's default, 5s; 0 maps to -1: never wait)
	ShutdownTimeout       time.Duration // ZAPBASE_SHUTDOWN_TIMEOUT (default 25s)
	ClaimTTL              time.Duration // ZAPBASE_DISPATCH_CLAIM_TTL (0: dispatch default, 2m; crash recovery delay)
	SendTimeout           time.Duration // ZAPBASE_DISPATCH_SEND_TIMEOUT (0: dispatch default, 30s; must stay 5s below the claim TTL)
	ReconcileInterval     time.Duration // ZAPBASE_DISPATCH_RECONCILE_INTERVAL (0: dispatch default, 3s; period of the safety-net scan)
	WhatsAppWeb           bool          // ZAPBASE_WHATSAPP_WEB (enable the WhatsApp Web provider; default true)
	WhatsAppLeaseTTL      time.Duration // ZAPBASE_WHATSAPP_LEASE_TTL (session lease TTL; default 15s; takeover after a crash within TTL + TTL/3)
	WhatsAppConnectWait   time.Duration // ZAPBASE_WHATSAPP_CONNECT_TIMEOUT (give up a WhatsApp Web connection attempt; default 20s)
	TestWhatsmeowFake     bool          // ZAPBASE_TEST_WHATSMEOW_FAKE (tests only: offline fake WhatsApp Web client)
	Sandbox               bool          // ZAPBASE_SANDBOX (enable the sandbox provider)
	SandboxDelay          time.Duration // ZAPBASE_SANDBOX_RECEIPT_DELAY (default 300ms)
	SandboxSendLog        string        // ZAPBASE_SANDBOX_SEND_LOG (file recording every sandbox send; tests and benchmarks)
	SandboxReceipts       bool          // ZAPBASE_SANDBOX_RECEIPTS (simulate delivered/read receipts; default true)
	MetaGraphURL          string        // ZAPBASE_META_GRAPH_URL (default https://graph.facebook.com)
	MetaAPIVersion        string        // ZAPBASE_META_API_VERSION (default v26.0)
	MetaWebhookMaxBytes   int64         // ZAPBASE_META_WEBHOOK_MAX_BYTES (Meta webhook body limit; default 4 MiB, minimum 3 MiB)
	GeminiAPIKey          string        // GEMINI_API_KEY
	GeminiBaseURL         string        // GEMINI_BASE_URL
	OpenAIAPIKey          string        // OPENAI_API_KEY
	OpenAIBaseURL         string        // OPENAI_BASE_URL
	// Tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT)
	// is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none;
	// protocol from OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL.
	Tracing            tracing.Config
	MetricsTenantLabel bool            // ZAPBASE_METRICS_TENANT_LABEL (default true)
	AI                 AIConfig        // ZAPBASE_AI_* (agent runtime)
	Retention          RetentionConfig // ZAPBASE_RETENTION_* (janitor of internal tables)
	Webhooks           WebhooksConfig  // ZAPBASE_WEBHOOK_* (outgoing webhooks)
}

// WebhooksConfig tunes outgoing webhooks (ZAPBASE_WEBHOOK_*).
type WebhooksConfig struct {
	Enabled        bool            // ZAPBASE_WEBHOOKS (fan-out and delivery workers; default true)
	PollInterval   time.Duration   // ZAPBASE_WEBHOOK_POLL_INTERVAL (change feed poll; default 250ms)
	Workers        int             // ZAPBASE_WEBHOOK_WORKERS (concurrent attempts; default 16)
	SubConcurrency int             // ZAPBASE_WEBHOOK_SUBSCRIPTION_CONCURRENCY (attempts of one subscription at once; default 4)
	Timeout        time.Duration   // ZAPBASE_WEBHOOK_TIMEOUT (one attempt; default 15s)
	ConnectTimeout time.Duration   // ZAPBASE_WEBHOOK_CONNECT_TIMEOUT (default 5s)
	RetryFor       time.Duration   // ZAPBASE_WEBHOOK_RETRY_FOR (then dead-lettered; default 24h)
	RetryBaseDelay time.Duration   // ZAPBASE_WEBHOOK_RETRY_BASE_DELAY (default 10s)
	RetryMaxDelay  time.Duration   // ZAPBASE_WEBHOOK_RETRY_MAX_DELAY (default 1h)
	AllowPrivate   webhooks.Policy // ZAPBASE_WEBHOOK_ALLOW_PRIVATE (CIDRs, addresses, host names; dev: loopback)
}

// RetentionConfig says how long internal rows are kept
// (ZAPBASE_RETENTION_*), in package retention's terms: 0 (unset) takes its
// default, retention.KeepForever keeps the rows. Values are Go durations
// (36h) or days (7d); "keep" (or 0) means forever.
type RetentionConfig struct {
	Idempotency  time.Duration // ZAPBASE_RETENTION_IDEMPOTENCY (Idempotency-Key answers; default 48h, minimum 24h)
	WebhookInbox time.Duration // ZAPBASE_RETENTION_WEBHOOK_INBOX (processed webhook deliveries; default 7d, minimum 1h)
	AuditLog     time.Duration // ZAPBASE_RETENTION_AUDIT_LOG (wa.audit_log; default keep)
	Interval     time.Duration // ZAPBASE_RETENTION_INTERVAL (between janitor runs; default 1h, minimum 1m)

	// Outgoing webhooks: ZAPBASE_RETENTION_CHANGE_LOG (wa.change_log; default
	// 72h, minimum 1h) and ZAPBASE_RETENTION_WEBHOOK_DELIVERIES (finished
	// deliveries; default 7d, minimum 1h).
	ChangeLog         time.Duration
	WebhookDeliveries time.Duration
}

// Minimum retentions: an Idempotency-Key must replay for at least a day (a
// client retrying after an outage must not send twice).
const (
	minRetentionIdempotency  = 24 * time.Hour
	minRetentionWebhookInbox = time.Hour
)

// AIConfig tunes the agent runtime (ZAPBASE_AI_*) in the runtime's terms:
// unset variables stay zero and take the runtime's defaults (package ai owns
// them; the defaults below are documentation).
type AIConfig struct {
	GeminiModel           string        // GEMINI_MODEL (default gemini-2.5-flash)
	OpenAIModel           string        // OPENAI_MODEL (default gpt-4.1-mini)
	Debounce              time.Duration // ZAPBASE_AI_DEBOUNCE (default 3s; 0 maps to -1: every message answered at once)
	PauseAfterHuman       time.Duration // ZAPBASE_AI_PAUSE_AFTER_HUMAN (default 30m)
	HandoffDuration       time.Duration // ZAPBASE_AI_HANDOFF_DURATION (default 24h)
	MaxConsecutiveReplies int           // ZAPBASE_AI_MAX_CONSECUTIVE_REPLIES (default 10)
	DailyTokenBudget      int64         // ZAPBASE_AI_DAILY_TOKEN_BUDGET (default 0: unlimited; per tenant via the API)
	MaxMessageAge         time.Duration // ZAPBASE_AI_MAX_MESSAGE_AGE (default 1h)
	ScanInterval          time.Duration // ZAPBASE_AI_SCAN_INTERVAL (default 30s)
	Workers               int           // ZAPBASE_AI_WORKERS (default 8)
	// CrashBeforeCommit (ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT) is a TEST-ONLY
	// hook: the process kills itself with SIGKILL after the model answered
	// and before the reply is committed, to prove exactly-once replies.
	CrashBeforeCommit bool
}

// configError names the variable that stopped start-up (pt-BR message).
type configError struct {
	Var string
	Msg string
}

func (e *configError) Error() string {
	return fmt.Sprintf("configuração inválida: %s: %s", e.Var, e.Msg)
}

// LoadConfig reads and validates the configuration. getenv is os.Getenv in
// production; defaults fills values a mode (dev) provides.
func LoadConfig(getenv func(string) string, defaults map[string]string) (Config, error) {
	get := func(k string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return defaults[k]
	}
	var errs []error
	fail := func(k, msg string) { errs = append(errs, &configError{Var: k, Msg: msg}) }
	dur := func(k string, def time.Duration) time.Duration {
		v := get(k)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			fail(k, "duração inválida (use por exemplo 5s, 500ms)")
			return def
		}
		return d
	}
	// durOrOff reads a duration where 0 switches the feature off: unset is
	// 0 (the package's default), "0" is -1 (river's "disabled").
	durOrOff := func(k string) time.Duration {
		if get(k) == "" {
			return 0
		}
		if d := dur(k, 0); d != 0 {
			return d
		}
		return -1
	}
	boolean := func(k string, def bool) bool {
		v := get(k)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(k, "use true ou false")
			return def
		}
		return b
	}
	urlVar := func(k string, schemes ...string) string {
		v := get(k)
		if v == "" {
			return ""
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !contains(schemes, u.Scheme) {
			fail(k, "URL inválida (esperado "+strings.Join(schemes, " ou ")+"://...)")
			return ""
		}
		return strings.TrimRight(v, "/")
	}

	c := Config{
		HTTPAddr:              get("ZAPBASE_HTTP_ADDR"),
		InstanceID:            get("ZAPBASE_INSTANCE_ID"),
		PprofAddr:             get("ZAPBASE_PPROF_ADDR"),
		JWTSecret:             get("SUPABASE_JWT_SECRET"),
		JWTAudience:           get("SUPABASE_JWT_AUDIENCE"),
		SupabaseServiceKey:    get("SUPABASE_SERVICE_KEY"),
		SupabasePublishable:   get("SUPABASE_PUBLISHABLE_KEY"),
		StorageBucket:         get("ZAPBASE_STORAGE_BUCKET"),
		MediaDir:              get("ZAPBASE_MEDIA_DIR"),
		AdminToken:            get("ZAPBASE_ADMIN_TOKEN"),
		SupabaseWebhookSecret: get("ZAPBASE_SUPABASE_WEBHOOK_SECRET"),
		SlotName:              get("ZAPBASE_SLOT_NAME"),
		Publication:           get("ZAPBASE_PUBLICATION"),
		MetaAPIVersion:        get("ZAPBASE_META_API_VERSION"),
		GeminiAPIKey:          get("GEMINI_API_KEY"),
		OpenAIAPIKey:          get("OPENAI_API_KEY"),
	}
	c.DatabaseURL = urlVar("DATABASE_URL", "postgres", "postgresql")
	if get("DATABASE_URL") == "" {
		fail("DATABASE_URL", "obrigatória (URL de conexão direta do Postgres do Supabase)")
	}
	c.ReplicationURL = urlVar("DATABASE_REPLICATION_URL", "postgres", "postgresql")
	if c.ReplicationURL == "" {
		c.ReplicationURL = c.DatabaseURL
	}
	c.SupabaseURL = urlVar("SUPABASE_URL", "http", "https")
	c.JWTIssuer = get("SUPABASE_JWT_ISSUER")
	if c.JWTIssuer == "" && c.SupabaseURL != "" {
		c.JWTIssuer = c.SupabaseURL + "/auth/v1"
	}
	if c.JWTAudience == "" {
		c.JWTAudience = "authenticated"
	}
	if c.SupabaseURL == "" && c.JWTSecret == "" {
		fail("SUPABASE_URL", "defina SUPABASE_URL (chaves JWKS) ou SUPABASE_JWT_SECRET (segredo HS256 legado) para validar os JWTs dos usuários")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		fail("SUPABASE_JWT_SECRET", "muito curto (mínimo de 32 caracteres)")
	}
	if k := get("ZAPBASE_ENCRYPTION_KEY"); k == "" {
		fail("ZAPBASE_ENCRYPTION_KEY", "obrigatória (32 bytes em base64 ou hex; gere com: openssl rand -base64 32)")
	} else if key, err := secret.ParseKey(k); err != nil {
		fail("ZAPBASE_ENCRYPTION_KEY", "deve ter 32 bytes em base64 ou hex (gere com: openssl rand -base64 32)")
	} else {
		c.EncryptionKey = key
	}
	if olds := get("ZAPBASE_ENCRYPTION_OLD_KEYS"); olds != "" {
		for _, s := range strings.Split(olds, ",") {
			key, err := secret.ParseKey(s)
			if err != nil {
				fail("ZAPBASE_ENCRYPTION_OLD_KEYS", "cada chave deve ter 32 bytes em base64 ou hex")
				break
			}
			c.OldEncryptionKeys = append(c.OldEncryptionKeys, key)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 24 {
		fail("ZAPBASE_ADMIN_TOKEN", "muito curto (mínimo de 24 caracteres)")
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.InstanceID == "" {
		c.InstanceID = defaultInstanceID()
	}
	switch strings.ToLower(get("ZAPBASE_LOG_LEVEL")) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		fail("ZAPBASE_LOG_LEVEL", "use debug, info, warn ou error")
	}
	if c.StorageBucket == "" {
		c.StorageBucket = "whatsapp-media"
	}
	if c.MediaDir == "" {
		c.MediaDir = "./.zapbase/media"
	}
	c.Listener = boolean("ZAPBASE_LISTENER", true)
	if c.SlotName == "" {
		c.SlotName = "zapbase"
	}
	if strings.Contains(c.SlotName, "realtime") {
		fail("ZAPBASE_SLOT_NAME", "não pode conter \"realtime\" (o Supabase Realtime apaga slots com esse nome)")
	}
	if c.Publication == "" {
		c.Publication = "zapbase_messages"
	}
	c.SendWait = durOrOff("ZAPBASE_SEND_WAIT")
	c.DBMaxConns = 20
	if v := get("ZAPBASE_DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 1000 {
			fail("ZAPBASE_DB_MAX_CONNS", "use um número entre 4 e 1000")
		} else {
			c.DBMaxConns = int32(n)
		}
	}
	c.ShutdownTimeout = dur("ZAPBASE_SHUTDOWN_TIMEOUT", 25*time.Second)
	c.ClaimTTL = dur("ZAPBASE_DISPATCH_CLAIM_TTL", 0)
	c.SendTimeout = dur("ZAPBASE_DISPATCH_SEND_TIMEOUT", 0)
	c.ReconcileInterval = dur("ZAPBASE_DISPATCH_RECONCILE_INTERVAL", 0)
	if c.ReconcileInterval < 0 || (c.ReconcileInterval > 0 && c.ReconcileInterval < 100*time.Millisecond) {
		fail("ZAPBASE_DISPATCH_RECONCILE_INTERVAL", "mínimo de 100ms")
	}
	c.Sandbox = boolean("ZAPBASE_SANDBOX", false)
	c.WhatsAppWeb = boolean("ZAPBASE_WHATSAPP_WEB", true)
	c.WhatsAppLeaseTTL = dur("ZAPBASE_WHATSAPP_LEASE_TTL", 0)
	if c.WhatsAppLeaseTTL != 0 && c.WhatsAppLeaseTTL < time.Second {
		fail("ZAPBASE_WHATSAPP_LEASE_TTL", "mínimo de 1s")
	}
	c.WhatsAppConnectWait = dur("ZAPBASE_WHATSAPP_CONNECT_TIMEOUT", 0)
	// Test-only: exactly "1" turns the fake on, so no truthy typo in a real
	// deployment can replace WhatsApp with a simulator.
	switch v := get("ZAPBASE_TEST_WHATSMEOW_FAKE"); v {
	case "", "0":
	case "1":
		c.TestWhatsmeowFake = true
	default:
		fail("ZAPBASE_TEST_WHATSMEOW_FAKE", "somente para testes; use 1 para ativar o cliente falso do WhatsApp Web")
	}
	c.SandboxDelay = dur("ZAPBASE_SANDBOX_RECEIPT_DELAY", 300*time.Millisecond)
	c.SandboxSendLog = get("ZAPBASE_SANDBOX_SEND_LOG")
	c.SandboxReceipts = boolean("ZAPBASE_SANDBOX_RECEIPTS", true)
	c.MetaGraphURL = urlVar("ZAPBASE_META_GRAPH_URL", "http", "https")
	if c.MetaGraphURL == "" {
		c.MetaGraphURL = "https://graph.facebook.com"
	}
	if c.MetaAPIVersion == "" {
		c.MetaAPIVersion = meta.DefaultAPIVersion
	}
	c.PublicURL = urlVar("ZAPBASE_PUBLIC_URL", "http", "https")
	c.GeminiBaseURL = urlVar("GEMINI_BASE_URL", "http", "https")
	c.OpenAIBaseURL = urlVar("OPENAI_BASE_URL", "http", "https")
	c.Tracing = tracingConfig(get, urlVar, fail)
	c.MetricsTenantLabel = boolean("ZAPBASE_METRICS_TENANT_LABEL", true)
	integer := func(k string, def int64) int64 {
		v := get(k)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			fail(k, "use um número inteiro não negativo")
			return def
		}
		return n
	}
	c.MetaWebhookMaxBytes = integer("ZAPBASE_META_WEBHOOK_MAX_BYTES", meta.MaxWebhookBytes)
	if c.MetaWebhookMaxBytes < meta.MinWebhookBytes {
		fail("ZAPBASE_META_WEBHOOK_MAX_BYTES", fmt.Sprintf("mínimo de %d bytes (a Meta envia lotes de até 3 MB)", meta.MinWebhookBytes))
	}
	c.AI = AIConfig{
		GeminiModel:           get("GEMINI_MODEL"),
		OpenAIModel:           get("OPENAI_MODEL"),
		Debounce:              durOrOff("ZAPBASE_AI_DEBOUNCE"),
		PauseAfterHuman:       dur("ZAPBASE_AI_PAUSE_AFTER_HUMAN", 0),
		HandoffDuration:       dur("ZAPBASE_AI_HANDOFF_DURATION", 0),
		MaxConsecutiveReplies: int(integer("ZAPBASE_AI_MAX_CONSECUTIVE_REPLIES", 0)),
		DailyTokenBudget:      integer("ZAPBASE_AI_DAILY_TOKEN_BUDGET", 0),
		MaxMessageAge:         dur("ZAPBASE_AI_MAX_MESSAGE_AGE", 0),
		ScanInterval:          dur("ZAPBASE_AI_SCAN_INTERVAL", 0),
		Workers:               int(integer("ZAPBASE_AI_WORKERS", 0)),
		CrashBeforeCommit:     boolean("ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT", false),
	}
	if get("ZAPBASE_AI_MAX_CONSECUTIVE_REPLIES") != "" && c.AI.MaxConsecutiveReplies == 0 {
		fail("ZAPBASE_AI_MAX_CONSECUTIVE_REPLIES", "deve ser pelo menos 1")
	}
	if (get("ZAPBASE_AI_WORKERS") != "" && c.AI.Workers == 0) || c.AI.Workers > 256 {
		fail("ZAPBASE_AI_WORKERS", "use um valor entre 1 e 256")
	}
	if !testHooks {
		// The hooks are not in a production build (testhooks.go): asking for
		// one is a mistake, never silently ignored.
		if c.TestWhatsmeowFake {
			fail("ZAPBASE_TEST_WHATSMEOW_FAKE", "somente em binários de teste (go build -tags zapbase_testhooks)")
		}
		if c.AI.CrashBeforeCommit {
			fail("ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT", "somente em binários de teste (go build -tags zapbase_testhooks)")
		}
	}
	if c.AI.ScanInterval != 0 && c.AI.ScanInterval < time.Second {
		fail("ZAPBASE_AI_SCAN_INTERVAL", "mínimo de 1s")
	}
	// keepFor parses a retention: a duration, Nd (days), or keep/0.
	keepFor := func(k string, def, minimum time.Duration) time.Duration {
		v := strings.ToLower(get(k))
		if v == "" {
			return def
		}
		if v == "keep" || v == "0" {
			return retention.KeepForever
		}
		d, err := parseRetention(v)
		if err != nil || d <= 0 {
			fail(k, "use uma duração (por exemplo 48h ou 7d) ou keep para guardar para sempre")
			return def
		}
		if d < minimum {
			fail(k, "mínimo de "+formatRetention(minimum))
			return def
		}
		return d
	}
	c.Retention = RetentionConfig{
		Idempotency:  keepFor("ZAPBASE_RETENTION_IDEMPOTENCY", 0, minRetentionIdempotency),
		WebhookInbox: keepFor("ZAPBASE_RETENTION_WEBHOOK_INBOX", 0, minRetentionWebhookInbox),
		AuditLog:     keepFor("ZAPBASE_RETENTION_AUDIT_LOG", 0, time.Hour),
		Interval:     dur("ZAPBASE_RETENTION_INTERVAL", 0),
	}
	if c.Retention.Interval != 0 && c.Retention.Interval < time.Minute {
		fail("ZAPBASE_RETENTION_INTERVAL", "mínimo de 1m")
	}
	c.Retention.ChangeLog = keepFor("ZAPBASE_RETENTION_CHANGE_LOG", 0, time.Hour)
	c.Retention.WebhookDeliveries = keepFor("ZAPBASE_RETENTION_WEBHOOK_DELIVERIES", 0, time.Hour)
	c.Webhooks = webhooksConfig(get, dur, boolean, integer, fail)
	return c, errors.Join(errs...)
}

// webhooksConfig reads ZAPBASE_WEBHOOK_* (outgoing webhooks).
func webhooksConfig(get func(string) string, dur func(string, time.Duration) time.Duration, boolean func(string, bool) bool,
	integer func(string, int64) int64, fail func(k, msg string)) WebhooksConfig {
	w := WebhooksConfig{
		Enabled:        boolean("ZAPBASE_WEBHOOKS", true),
		PollInterval:   dur("ZAPBASE_WEBHOOK_POLL_INTERVAL", webhooks.DefaultPollInterval),
		Workers:        int(integer("ZAPBASE_WEBHOOK_WORKERS", webhooks.DefaultWorkers)),
		SubConcurrency: int(integer("ZAPBASE_WEBHOOK_SUBSCRIPTION_CONCURRENCY", webhooks.DefaultPerSubscription)),
		Timeout:        dur("ZAPBASE_WEBHOOK_TIMEOUT", webhooks.DefaultTimeout),
		ConnectTimeout: dur("ZAPBASE_WEBHOOK_CONNECT_TIMEOUT", webhooks.DefaultConnectTimeout),
		RetryFor:       dur("ZAPBASE_WEBHOOK_RETRY_FOR", webhooks.DefaultRetryFor),
		RetryBaseDelay: dur("ZAPBASE_WEBHOOK_RETRY_BASE_DELAY", webhooks.DefaultBaseDelay),
		RetryMaxDelay:  dur("ZAPBASE_WEBHOOK_RETRY_MAX_DELAY", webhooks.DefaultMaxDelay),
	}
	if w.PollInterval < 10*time.Millisecond {
		fail("ZAPBASE_WEBHOOK_POLL_INTERVAL", "mínimo de 10ms")
	}
	if w.Workers < 1 || w.Workers > 256 {
		fail("ZAPBASE_WEBHOOK_WORKERS", "use um valor entre 1 e 256")
	}
	if w.SubConcurrency < 1 || w.SubConcurrency > 64 {
		fail("ZAPBASE_WEBHOOK_SUBSCRIPTION_CONCURRENCY", "use um valor entre 1 e 64")
	}
	if w.Timeout < time.Second || w.Timeout > 5*time.Minute {
		fail("ZAPBASE_WEBHOOK_TIMEOUT", "use um valor entre 1s e 5m")
	}
	if w.ConnectTimeout < 100*time.Millisecond || w.ConnectTimeout > w.Timeout {
		fail("ZAPBASE_WEBHOOK_CONNECT_TIMEOUT", "use um valor entre 100ms e ZAPBASE_WEBHOOK_TIMEOUT")
	}
	if w.RetryFor < time.Minute {
		fail("ZAPBASE_WEBHOOK_RETRY_FOR", "mínimo de 1m")
	}
	if w.RetryBaseDelay < 100*time.Millisecond {
		fail("ZAPBASE_WEBHOOK_RETRY_BASE_DELAY", "mínimo de 100ms")
	}
	if w.RetryMaxDelay < w.RetryBaseDelay {
		fail("ZAPBASE_WEBHOOK_RETRY_MAX_DELAY", "não pode ser menor que ZAPBASE_WEBHOOK_RETRY_BASE_DELAY")
	}
	policy, err := webhooks.ParsePolicy(get("ZAPBASE_WEBHOOK_ALLOW_PRIVATE"))
	if err != nil {
		fail("ZAPBASE_WEBHOOK_ALLOW_PRIVATE", "use CIDRs (10.0.0.0/8), endereços (127.0.0.1) ou nomes de host separados por vírgula")
	}
	w.AllowPrivate = policy
	return w
}

// parseRetention reads a Go duration or a whole number of days ("7d").
func parseRetention(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 36500 {
			return 0, fmt.Errorf("invalid days %q", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// formatRetention writes whole days as Nd, anything else as a duration.
func formatRetention(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// tracingConfig reads the standard OpenTelemetry variables that decide
// whether and how spans are exported; the exporter reads the rest
// (headers, timeout, compression, certificates) itself.
func tracingConfig(get func(string) string, urlVar func(k string, schemes ...string) string, fail func(k, msg string)) tracing.Config {
	endpoint := urlVar("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http", "https")
	if endpoint == "" {
		endpoint = urlVar("OTEL_EXPORTER_OTLP_ENDPOINT", "http", "https")
	}
	cfg := tracing.Config{Enabled: endpoint != ""}
	switch v := strings.ToLower(get("OTEL_SDK_DISABLED")); v {
	case "", "false":
	case "true":
		cfg.Enabled = false
	default:
		fail("OTEL_SDK_DISABLED", "use true ou false")
	}
	switch v := strings.ToLower(get("OTEL_TRACES_EXPORTER")); v {
	case "", "otlp":
	case "none":
		cfg.Enabled = false
	default:
		fail("OTEL_TRACES_EXPORTER", "o zapbase exporta traces apenas por OTLP; use otlp ou none")
	}
	key := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	proto := get(key)
	if proto == "" {
		key, proto = "OTEL_EXPORTER_OTLP_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "", tracing.ProtocolHTTP, tracing.ProtocolGRPC:
		cfg.Protocol = proto
	default:
		fail(key, "use http/protobuf (porta 4318) ou grpc (porta 4317); http/json não é suportado")
	}
	return cfg
}
