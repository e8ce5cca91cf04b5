"""Checks for notebook 10 (attention): softmax over the keys with a mask, scaled dot-product attention forward
and backward, causal and padding masks, heads (split/merge), multi-head self-attention, and the derivation,
hand-trace and cost questions.

Student contracts (float64, batch-major, the cs231n ``(out, cache)`` / ``grads = backward(dout, cache)`` pair;
masks are boolean with True = keep and broadcast against the scores)::

    P, cache = softmax_forward(x, mask=None)          # over the LAST axis; masked entries exactly 0
    dx = softmax_backward(dP, cache)
    out, cache = attention_forward(Q, K, V, mask=None)   # Q (B,Tq,d), K (B,Tk,d), V (B,Tk,dv) -> out (B,Tq,dv)
    dQ, dK, dV = attention_backward(dout, cache)
    mask = causal_mask(T)                             # (T, T) bool, mask[i, j] = j <= i
    mask = padding_mask(lengths, T)                   # (B, 1, T) bool, mask[b, 0, j] = j < lengths[b]
    Xh = split_heads(X, num_heads)                    # (B, T, D) -> (B, h, T, D // h)
    X = merge_heads(Xh)                               # the inverse
    out, cache = multihead_attention_forward(X, Wq, Wk, Wv, Wo, num_heads, mask=None)
    dX, dWq, dWk, dWv, dWo = multihead_attention_backward(dout, cache)

Every code check calls student code only through graders.core.call_student with plain arrays (a returned
cache goes back to the student's backward untouched), watches the inputs (the course-wide "inputs left
unchanged" sub-check), compares with reference_impl.attention, and names the mistake when the answer equals a
known wrong one (graders/diagnoses.py: ATTN_*, NUMERIC_NOT_ANALYTIC, MISSING_RANK_ONE, ...). Each kind of
input is a sub-check of its own (no mask, Tq != Tk, causal, padding, large scores, a large constant part), so
a mistake costs its share; the visible test (``thorough=False``) has one case of every kind, the hidden test
(``thorough=True``) more cases of the same kinds.

Analytic, not numeric: one backward case of each gradient exercise adds a large constant (1e6) that the true
gradient ignores (a per-row constant in the softmax's upstream dP; a common part of every value vector in
attention, which P passes straight to the output because its rows sum to 1). Centred differences of the
forward then lose about 10 digits to rounding at every step size, so a backward that perturbs the forward
misses the tolerance there and is named NUMERIC_NOT_ANALYTIC; the analytic formula is exact to ~1e-10.

Expected values are computed in this package from reference_impl and SymPy (private helpers), never typed in
a notebook.

Where the checks live:

Shared machinery and constants (grading)          OFFSET, NUMERIC_BAND; calling, comparing, naming mistakes
Written answers (questions)                       check_one_query_trace, check_score_derivation,
                                                  check_variance_law, check_memory_answers; TRACE_KEYS,
                                                  DERIVATION_KEYS, VARIANCE_KEYS, MEMORY_KEYS
Softmax over the keys, masks (softmax_masks)      check_softmax, check_masks
Attention forward and backward                    check_attention_forward, check_attention_backward
(scaled_dot_product)
Heads, multi-head attention (multihead)           check_split_merge_heads, check_multihead_attention
"""

from graders.exercises.attention.grading import NUMERIC_BAND, OFFSET
from graders.exercises.attention.multihead import check_multihead_attention, check_split_merge_heads
from graders.exercises.attention.questions import (DERIVATION_KEYS, MEMORY_KEYS, TRACE_KEYS, VARIANCE_KEYS,
                                                   check_memory_answers, check_one_query_trace,
                                                   check_score_derivation, check_variance_law)
from graders.exercises.attention.scaled_dot_product import check_attention_backward, check_attention_forward
from graders.exercises.attention.softmax_masks import check_masks, check_softmax

__all__ = ["check_one_query_trace", "check_score_derivation", "check_softmax", "check_masks",
           "check_attention_forward", "check_attention_backward", "check_split_merge_heads",
           "check_multihead_attention", "check_variance_law", "check_memory_answers", "TRACE_KEYS",
           "DERIVATION_KEYS", "VARIANCE_KEYS", "MEMORY_KEYS", "OFFSET", "NUMERIC_BAND"]
