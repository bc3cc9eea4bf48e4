package realestate_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai/tools/realestate"
)

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// Schedules computed by hand: P = R$ 100.000,00, i = 1 % a.m., n = 12.
//
//	Price: PMT = P·i / (1 − (1+i)^−n) = 1000 / 0.11255077 = 8.884,88
//	       total = 12 × 8.884,8788 = 106.618,55; juros = 6.618,55
//	SAC:   A = 8.333,33; 1ª = A + 1.000,00 = 9.333,33;
//	       2ª = A + 916,67 = 9.250,00; 12ª = A + 83,33 = 8.416,67;
//	       juros = i·P·(n+1)/2 = 6.500,00
func TestCalculateFinancing(t *testing.T) {
	cases := []struct {
		name                          string
		p                             realestate.FinancingParams
		first, second, last           float64
		firstInterest, total, interes float64
	}{
		{"price", realestate.FinancingParams{Principal: 100000, MonthlyRate: 0.01, Months: 12, System: "PRICE"},
			8884.88, 8884.88, 8884.88, 1000, 106618.55, 6618.55},
		{"sac", realestate.FinancingParams{Principal: 100000, MonthlyRate: 0.01, Months: 12, System: "sac"},
			9333.33, 9250.00, 8416.67, 1000, 106500.00, 6500.00},
		{"price without interest", realestate.FinancingParams{Principal: 1200, MonthlyRate: 0, Months: 12, System: "PRICE"},
			100, 100, 100, 0, 1200, 0},
		{"sac two months", realestate.FinancingParams{Principal: 1000, MonthlyRate: 0.02, Months: 2, System: "SAC"},
			520, 510, 510, 20, 1030, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := realestate.CalculateFinancing(tc.p)
			require.NoError(t, err)
			require.Len(t, r.Schedule, tc.p.Months)
			require.Equal(t, tc.first, round2(r.Schedule[0].Payment))
			require.Equal(t, tc.second, round2(r.Schedule[1].Payment))
			require.Equal(t, tc.last, round2(r.Schedule[len(r.Schedule)-1].Payment))
			require.Equal(t, tc.firstInterest, round2(r.Schedule[0].Interest))
			require.Equal(t, tc.total, round2(r.TotalPaid))
			require.Equal(t, tc.interes, round2(r.TotalInterest))
			require.Equal(t, 0.0, r.Schedule[len(r.Schedule)-1].Balance)
			var amort float64
			for _, in := range r.Schedule {
				amort += in.Amortization
			}
			require.InDelta(t, tc.p.Principal, amort, 1e-6)
		})
	}
}

func TestCalculateFinancingRejectsBadInput(t *testing.T) {
	for _, p := range []realestate.FinancingParams{
		{Principal: 0, MonthlyRate: 0.01, Months: 12, System: "SAC"},
		{Principal: 1000, MonthlyRate: 0.01, Months: 0, System: "SAC"},
		{Principal: 1000, MonthlyRate: 0.01, Months: 421, System: "SAC"},
		{Principal: 1000, MonthlyRate: -0.01, Months: 12, System: "SAC"},
		{Principal: 1000, MonthlyRate: 0.01, Months: 12, System: "ALEMAO"},
	} {
		_, err := realestate.CalculateFinancing(p)
		require.Error(t, err, "%+v", p)
	}
}

func TestFormatBRL(t *testing.T) {
	cases := map[float64]string{
		0:           "R$ 0,00",
		0.5:         "R$ 0,50",
		100:         "R$ 100,00",
		999.999:     "R$ 1.000,00",
		8884.8788:   "R$ 8.884,88",
		106618.55:   "R$ 106.618,55",
		1234567.891: "R$ 1.234.567,89",
		-42.1:       "-R$ 42,10",
	}
	for v, want := range cases {
		require.Equal(t, want, realestate.FormatBRL(v), "%v", v)
	}
	require.Equal(t, "1,00%", realestate.FormatPercent(realestate.MonthlyFromAnnual(math.Pow(1.01, 12)-1)))
}

func TestFinancingToolAnswersBothSystems(t *testing.T) {
	out, err := realestate.RunFinancingTool(json.RawMessage(`{"property_value":150000,"down_payment":50000,"monthly_interest_rate":1,"term_months":12}`))
	require.NoError(t, err)
	require.Equal(t, "R$ 100.000,00", out["valor_financiado"])
	require.Equal(t, "R$ 8.884,88", out["price"].(map[string]any)["primeira_parcela"])
	require.Equal(t, "R$ 9.333,33", out["sac"].(map[string]any)["primeira_parcela"])
	require.Equal(t, "R$ 6.500,00", out["sac"].(map[string]any)["total_juros"])
	require.Equal(t, "1,00%", out["taxa_mensal"])
	require.NotContains(t, out, "observacao")
}
