"""Interview questions of notebook 11 (convolution and pooling). Right letters are stored only as salted digests
(see graders.concepts); feedback is keyed by the digest of the wrong option."""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    "conv_im2col_memory": Question(
        text=("A 3x3 convolution with stride 1 and padding 1 runs on a batch x of shape (N, C, H, W) by im2col. "
              "How many entries does the im2col matrix have, compared with x?"),
        options={
            "a": "the same number: im2col only reorders the entries of x",
            "b": "3 times as many: one copy per kernel row",
            "c": "9 times as many: every window is a row of C*3*3 entries and there are H*W windows per image",
            "d": "F times as many: one copy per filter",
        },
        answer_digest="24873bffa4f30fbca1450c2e9573177d122800059d1cb3fc3c5ca55d2185a648",
        feedback={
            "776bad80e9efb007892a13848fa5a0c7e0ac2954914c70f9e138cd751db7f41b":
                "overlapping windows share input entries, and im2col COPIES each entry into every window that "
                "reads it.",
            "4c72ba8fa9a73f548d89c8f59fe889500f137efb3f6c442111a8ac851606b015":
                "count the rows and columns of the matrix: N*H*W windows (stride 1, same padding) of C*3*3 "
                "entries each.",
            "609d0f0ab43980b6c6adf324e41d333eb78ca0672e832d880705c3ca80a1c792":
                "the filters are the OTHER factor of the matrix product; the im2col matrix does not depend on F.",
        },
    ),
    "conv_dx_stride": Question(
        text=("A convolution with stride 2 (no padding). You want dx as a full convolution of the upstream "
              "gradient dout with the kernel flipped by 180 degrees. What must happen to dout first?"),
        options={
            "a": "nothing: the full convolution takes care of the stride",
            "b": "insert one zero between neighbouring entries of dout (dilate it by the stride)",
            "c": "keep every second entry of dout (subsample it by the stride)",
            "d": "multiply dout by 2, the stride",
        },
        answer_digest="39af3f05c2745a9b2f9e874961ad5fae457e6d26969c00a84217c4edd21cbdbd",
        feedback={
            "f0adfbc72fd1c4f55632a409bad3d5c6958b38582d843d9fd7fe1d2002c4ca61":
                "without the zeros, dout[i] would line up with input row i instead of row 2i, where its window "
                "started.",
            "513c9cb06d12e8151018c9c91e010bb47699bc0c85f485a33701ac645af7a530":
                "dout has one entry per window and every window matters; the gradient needs MORE spacing, not "
                "fewer entries.",
            "5864941f8d763633c581bf365e94532e200573ac69c55015e91e040c511dae87":
                "the stride decides WHERE each window starts, not how strongly it contributes; no factor appears.",
        },
    ),
    "pool_sum_dx": Question(
        text=("Max-pool with 3x3 windows and stride 1 (windows overlap) on an input with exact ties, backward pass "
              "as frameworks do it. How does sum(dx) compare with sum(dout)?"),
        options={
            "a": ("equal: each window sends its whole gradient to exactly one entry, and where windows overlap "
                  "the contributions add"),
            "b": "larger: an entry inside several windows is counted several times",
            "c": "smaller: a tied window splits its gradient and part of it is lost",
            "d": "it is 0: the maximum is not differentiable where entries tie",
        },
        answer_digest="18229144f1bff77c9d1e70f70a3bba67364bb973d42b74514884a676ffe4ef22",
        feedback={
            "542006d472e5615309c088192faca3a10c445bdd885deb7f6e9e8b08f742ab0a":
                "an entry that wins several windows receives several gradients, but each window's gradient goes to "
                "ONE entry: the total is still the sum of dout.",
            "09ba45e59bfe84dd69ec353debcada67053bf74c9519de05f3f329b114413edb":
                "frameworks route a tied window's gradient to its first maximum, whole; nothing is split or lost.",
            "b65454b7ef9d6c8e18d055482f2045212b6f6369746573ea5feebbfeea2277e5":
                "at a tie the max has one-sided derivatives; frameworks pick one winner and pass the gradient "
                "through it.",
        },
    ),
}
