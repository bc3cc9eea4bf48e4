package ai_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
)

func TestChunk(t *testing.T) {
	text := "Primeiro parágrafo curto.\n\nSegundo parágrafo. Tem duas frases!\n\n" +
		"Terceiro parágrafo bem mais longo que o limite. Ele precisa ser dividido em frases. E cada frase cabe."
	chunks := ai.Chunk(text, 60)
	require.Greater(t, len(chunks), 2)
	for _, c := range chunks {
		require.LessOrEqual(t, len([]rune(c)), 60)
		require.NotEmpty(t, c)
	}
	require.Equal(t, []string{"só um"}, ai.Chunk("só um", 800))
}
