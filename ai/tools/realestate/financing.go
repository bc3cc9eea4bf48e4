package realestate

import (
	"fmt"
	"math"
	"strings"

	"github.com/zapbase/zapbase"
)

// Amortization systems used in Brazilian real-estate financing.
const (
	SystemSAC   = "SAC"   // constant amortization, decreasing installments
	SystemPrice = "PRICE" // French system (Tabela Price), constant installments
)

// FinancingParams describe a loan. Rates are fractions (0.01 = 1 %).
type FinancingParams struct {
	Principal   float64
	MonthlyRate float64
	Months      int
	System      string
}

// Installment is one month of a schedule.
type Installment struct {
	Number       int
	Payment      float64
	Interest     float64
	Amortization float64
	Balance      float64
}

// FinancingResult is a full schedule and its totals.
type FinancingResult struct {
	System        string
	Principal     float64
	MonthlyRate   float64
	Months        int
	Schedule      []Installment
	TotalPaid     float64
	TotalInterest float64
}

// MaxFinancingMonths bounds schedules (35 years, the longest term offered by
// Brazilian banks for housing).
const MaxFinancingMonths = 420

// MonthlyFromAnnual converts an effective annual rate into the equivalent
// monthly rate ((1+a)^(1/12) − 1), as Brazilian lenders quote "taxa efetiva".
func MonthlyFromAnnual(annual float64) float64 { return math.Pow(1+annual, 1.0/12) - 1 }

// CalculateFinancing computes a SAC or Price schedule. Values are kept
// unrounded; FormatBRL rounds for display.
func CalculateFinancing(p FinancingParams) (FinancingResult, error) {
	bad := func(msg string) error { return zapbase.Errorf(zapbase.CodeInvalidInput, "%s", msg) }
	if p.Principal <= 0 || math.IsNaN(p.Principal) || math.IsInf(p.Principal, 0) {
		return FinancingResult{}, bad("valor financiado deve ser positivo")
	}
	if p.Months < 1 || p.Months > MaxFinancingMonths {
		return FinancingResult{}, bad(fmt.Sprintf("prazo deve ficar entre 1 e %d meses", MaxFinancingMonths))
	}
	if p.MonthlyRate < 0 || p.MonthlyRate > 0.2 || math.IsNaN(p.MonthlyRate) {
		return FinancingResult{}, bad("taxa de juros inválida")
	}
	sys := strings.ToUpper(strings.TrimSpace(p.System))
	res := FinancingResult{System: sys, Principal: p.Principal, MonthlyRate: p.MonthlyRate, Months: p.Months}
	balance := p.Principal
	i := p.MonthlyRate
	n := p.Months
	switch sys {
	case SystemSAC:
		amort := p.Principal / float64(n)
		for k := 1; k <= n; k++ {
			interest := balance * i
			balance -= amort
			if k == n {
				balance = 0
			}
			res.Schedule = append(res.Schedule, Installment{Number: k, Payment: amort + interest, Interest: interest, Amortization: amort, Balance: balance})
		}
	case SystemPrice:
		var pmt float64
		if i == 0 {
			pmt = p.Principal / float64(n)
		} else {
			pmt = p.Principal * i / (1 - math.Pow(1+i, -float64(n)))
		}
		for k := 1; k <= n; k++ {
			interest := balance * i
			amort := pmt - interest
			balance -= amort
			if k == n {
				balance = 0
			}
			res.Schedule = append(res.Schedule, Installment{Number: k, Payment: pmt, Interest: interest, Amortization: amort, Balance: balance})
		}
	default:
		return FinancingResult{}, bad("sistema de amortização inválido (use SAC ou PRICE)")
	}
	for _, in := range res.Schedule {
		res.TotalPaid += in.Payment
		res.TotalInterest += in.Interest
	}
	return res, nil
}

// FormatBRL formats an amount as Brazilian reais: R$ 1.234.567,89.
func FormatBRL(v float64) string {
	neg := v < 0
	cents := int64(math.Round(math.Abs(v) * 100))
	intPart := cents / 100
	frac := cents % 100
	digits := fmt.Sprintf("%d", intPart)
	var b strings.Builder
	for k, r := range digits {
		if k > 0 && (len(digits)-k)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	s := fmt.Sprintf("R$ %s,%02d", b.String(), frac)
	if neg {
		s = "-" + s
	}
	return s
}

// FormatPercent formats a fraction as a pt-BR percentage with two decimals.
func FormatPercent(f float64) string {
	return strings.Replace(fmt.Sprintf("%.2f%%", f*100), ".", ",", 1)
}
