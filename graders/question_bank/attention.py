"""Interview questions of notebook 10 (attention). Right letters are stored only as salted digests (see
graders.concepts); feedback is keyed by the digest of the wrong option."""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    "attn_masked_zero_grad": Question(
        text=('Causal self-attention: the score s_ij of query i and a FUTURE key j > i is masked (its '
              'weight p_ij is excluded from the softmax). What is dL/ds_ij, the gradient that reaches this '
              'masked score?'),
        options={
            "a": 'a tiny number, about exp(-1e9) times the upstream gradient, because the mask fills -1e9',
            "b": ('exactly 0: p_ij = 0, and the softmax VJP ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik) carries'
                  ' the factor p_ij'),
            "c": 'the upstream dp_ij itself: the mask only changes the forward pass',
            "d": "minus the sum of the kept keys' gradients, so that the row's gradient sums to 0",
        },
        answer_digest="8b88621cf3448ce9db7888c28d2723d7b264c2fdae179757998ac7247d2e5339",
        feedback={
            "cfed5b71dafe943b813681664d076e1f766880c18b1dee4aeb4517c47381ada3":
                ('exp(-1e9) underflows to exactly 0.0 in float64 (and np.where with -inf gives exactly'
                 ' 0 too): the weight is exactly 0, and so is every term multiplied by it.'),
            "e5949c19cbd58473164d0c4adc696788267bf0c9796606f9f8249c11666051d4":
                ('the forward never used s_ij (p_ij = 0 whatever s_ij is), so the loss does not depend'
                 ' on it: its gradient is 0.'),
            "86a9d97e54a64dae51124169b6b38446789e5d5e287fb04f3d21f0b53ceba80a":
                ("the kept entries' gradients already sum to 0 among themselves (sum_j p_j (dp_j - "
                 'p.dp) = 0); the masked one is 0 on its own.'),
        },
    ),
    "attn_backward_keeps": Question(
        text=('Scaled dot-product attention out = softmax(Q K^T / sqrt(d)) V. Which arrays must the forward'
              ' keep (or be able to recompute) so that the backward can return dQ, dK and dV?'),
        options={
            "a": 'only P: every gradient is a product with P',
            "b": 'only the output and V',
            "c": 'Q and K only: P can be recomputed and V is not needed for any gradient',
            "d": ('Q, K, V and P (or Q and K to recompute P): dV = P^T dO, dP = dO V^T, dQ = dS K / '
                  'sqrt(d), dK = dS^T Q / sqrt(d)'),
        },
        answer_digest="7d7086630cd2650e89ec0d38fea503d141b8e2a858538dd1356cc175b1dd520e",
        feedback={
            "65c843dadefd35a5538d4c0d7d7563915d90966a2a764edf046bf2c2b69ec9ba":
                'dP = dO V^T needs V, dQ needs K and dK needs Q: P alone gives only dV.',
            "dec03c3e13ad217a01cb5fdce352468935ca81b450db2555b1d9cc42353db38d":
                ('the output does not enter any of the gradients, while Q and K do (dK = dS^T Q / '
                 'sqrt(d), dQ = dS K / sqrt(d)).'),
            "cd081168a0588e7c17c3004b4d3d499e7ef4870d2abe4f80e1a7b0b6e6d51cd8":
                'dP = dO V^T needs V: without it there is no gradient for the scores, hence none for Q and K.',
        },
    ),
    "attn_flash": Question(
        text=('Memory-efficient attention kernels (FlashAttention) train with long sequences on one GPU. '
              'What do they change about the T x T score matrix?'),
        options={
            "a": ('they never store it: scores are computed block by block with a running softmax, the '
                  "forward keeps only each row's softmax statistics, and the backward recomputes the "
                  'blocks; memory grows like T, the flops still like T^2'),
            "b": 'they approximate the softmax with a low-rank matrix, so both memory and flops grow like T',
            "c": 'they drop the 1/sqrt(d) factor, which makes the scores small enough to store in 8 bits',
            "d": 'they store P in float16 instead of float32, which halves the memory and keeps it quadratic',
        },
        answer_digest="373731e20e4137cabb20c5e1966323f593729f72341131472bdc6137baf6c50d",
        feedback={
            "781b7c01ada625bde7c82353f1063528f7e3762370cd87c9b827402e2dc7875d":
                ('they are exact, not approximations: the output equals standard attention up to '
                 'rounding; the flops stay quadratic.'),
            "e5890f0d09d1fcb3c7fd4cd3b38858729f72cc68f46f8932b0545421dd455692":
                ('the scale is part of the exact computation; removing it would change the model (and '
                 'saturate the softmax).'),
            "3f4167fde20ecc67a5522bbcb8d472dc4369d042f733a1b19e807cef01fed78a":
                ('lower precision helps by a constant factor only; the point of tiling is that the T x'
                 ' T matrix is never materialized at all.'),
        },
    ),
}
