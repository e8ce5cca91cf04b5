"""Interview questions of notebook 07 (batchnorm backward). Right letters are stored only as salted digests
(see graders.concepts); feedback is keyed by the digest of the wrong option."""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    "bn_sum_dx": Question(
        text=("Batchnorm in train mode, one feature column of a batch of N examples. For an ARBITRARY upstream "
              "gradient dout, what is sum_i dx_i (the sum of dL/dx over the batch, for that feature)?"),
        options={
            "a": "sum_i dout_i: the batch sum passes through normalization unchanged",
            "b": "gamma * sum_i dout_i / sigma",
            "c": "exactly 0: adding the same constant to every x_i leaves out unchanged",
            "d": "it depends on dout and cannot be said in general",
        },
        answer_digest="5ebe9eb9542ae6f51c505737d2f809af4d83ab3024cbff793f196d82d6a91672",
        feedback={
            "dd51800a6fe3b9cdb43b454157983811666307a12ef803a1d3b4303ab93334e3":
                "that would be true for an identity layer; here the mean term subtracts the average of dxhat.",
            "5d85be4a7454ed55c649e4da74551384acd10ec4cacd8a7dc81ba49172874eb4":
                "that is the sum of the first (direct) term only; the mean term cancels it exactly.",
            "1a8d388ea5e8a730c6af2516aab7bf47a5dc3177dd2435aaace89d5a5f65a465":
                "it can: shifting a whole column by c does not change xhat, so the directional derivative "
                "along (1, ..., 1) is zero for every dout.",
        },
    ),
    "bn_eval_backward": Question(
        text="Batchnorm in EVAL mode (normalizing with the running mean and variance). What is dx?",
        options={
            "a": "the same three-term formula as in train mode",
            "b": "gamma * dout / sqrt(running_var + eps): the statistics are constants, so it is elementwise",
            "c": "0, because the running statistics are not trained",
            "d": "dout: eval mode does not backpropagate through the normalization",
        },
        answer_digest="4d1b33c440113338e329f788703832a3573d0d03ce55c787f5ca9ba8ee31b350",
        feedback={
            "2afbedcefffd79f6c34a1d2ae881728f89a6c0891b20ac6013c5d99279d4b47e":
                "the mean and variance terms exist because the batch statistics depend on x; running "
                "statistics do not.",
            "523457fffab48f883ae4f328d8718b9af7f2f064b1e96c110604fc0600713e18":
                "x still reaches out through (x - running_mean) / sqrt(running_var + eps).",
            "8d420bc2148a1456cc74faeab1c07b8d3316c4d0e5985552f3c7927c8a9926d1":
                "the layer is an affine map of x with slope gamma / sqrt(running_var + eps), not the identity.",
        },
    ),
    "bn_layernorm": Question(
        text="Which statement about layernorm, compared with batchnorm, is right?",
        options={
            "a": "layernorm normalizes each feature over the batch, like batchnorm, but without gamma and beta",
            "b": "layernorm's backward has no mean or variance terms, because it needs no running statistics",
            "c": "layernorm needs a batch of at least 2 examples in training",
            "d": ("layernorm normalizes each example over its own features, so it behaves the same in training "
                  "and evaluation and works with a batch of one"),
        },
        answer_digest="1a9d2c69be81dbfa02570c4be4c8730835d92de14a560b4dffb41c04bf724eb2",
        feedback={
            "03d9d5bd69157e805b2ddbc1e0b01be3efb9ed1b24ecff9fa4b029832d5108a7":
                "that describes batchnorm's axis; layernorm works along the other axis and keeps gamma and beta.",
            "b554865df3d5623c0de5eeec4f8f4bd13cc21e7556a68ce71d0f92bf842b59c8":
                "its mean and variance depend on x (along the feature axis), so the same three-term structure "
                "appears with sums over features.",
            "a2464e49246bd000c9121667fa15039d46449282b2dc13efde8ab86aceb03dcc":
                "its statistics are computed per example, so the batch size does not matter.",
        },
    ),
    "bn_batch_of_one": Question(
        text=("You train with batchnorm in train mode on a batch of ONE example (N = 1), with eps = 1e-5. What "
              "happens?"),
        options={
            "a": "xhat is 0, out equals beta, and dx is 0: no gradient reaches the layers below",
            "b": "a division by zero produces NaN in the forward pass",
            "c": "it behaves like eval mode",
            "d": "it works normally, just with a noisier gradient",
        },
        answer_digest="3b85d30c22854009b13f7e92b5f92bda26f033b7f84fb2719d3ceff1965ddf1e",
        feedback={
            "0d4c475166df683299fdb7bc78710355f2d59b5108d1a53afcfbbbfca439b41d":
                "eps keeps sqrt(var + eps) positive; the problem is that x - mu is 0.",
            "c2d13d1e23d2419bd1ca1e613811ca4dd73f57c0bf3abc6b13d7eea2ec3488ab":
                "eval mode uses the running statistics; train mode with N = 1 uses the example itself as the mean.",
            "36a07b3ba04e88ccc482de0c2d88ba0ca01eca6a10363991fb4def4aac7e68c2":
                "with one example x - mu = 0 whatever x is, so out does not depend on x at all.",
        },
    ),
}
