/* rouge.h - ROUGE-1 and ROUGE-L (Lin, 2004) for judging summaries in tests:
 * words are lowercase ASCII letter/digit runs, no stemming, no stopword
 * removal; recall is against the reference, precision against the
 * candidate, F is their harmonic mean (beta = 1). */
#ifndef QUIRE_TEST_ROUGE_H
#define QUIRE_TEST_ROUGE_H

typedef struct rouge_score {
    double p, r, f;
} rouge_score;

/* Unigram overlap with counts clipped to the reference's. */
rouge_score rouge_1(const char *candidate, const char *reference);
/* Longest common subsequence of the two word sequences. */
rouge_score rouge_l(const char *candidate, const char *reference);

#endif
