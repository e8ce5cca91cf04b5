"""Interview questions of notebook 13 (backprop at tensor level). Right letters are stored only as salted digests
(see graders.concepts); feedback is keyed by the digest of the wrong option."""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    "embedding_fancy_index": Question(
        text=("NumPy: dW = np.zeros((4, 2)); idx = np.array([2, 0, 2]); dout is (3, 2); then dW[idx] += dout. "
              "What does row 2 of dW hold afterwards?"),
        options={
            "a": "dout[0] + dout[2]: both positions that looked up row 2 add their gradient",
            "b": ("only one of the two contributions (dout[2]): dW[idx] += dout reads dW[idx] once, adds, and writes "
                  "each position back, so the second write to row 2 overwrites the first"),
            "c": "2 * dout[2]: the row is doubled because it appears twice",
            "d": "nothing: NumPy raises an IndexError for a repeated index",
        },
        answer_digest="aca34e0de4faeab3947616c64f90f2c37a44685d0508be98b1b5e5135631a1ae",
        feedback={
            "f73a27f3861ef7f7bef7d0e220c6bcda8c58359aeaebda7d8bf2d84d29a4e592":
                "that is what the gradient SHOULD be, and what np.add.at(dW, idx, dout) gives; the buffered "
                "fancy-index update does not.",
            "d03bde3f6581188955fa32edc3d4b6672484007abd811a7de0e4a070f1049c79":
                "the update is not applied twice: the old row is read once and one of the writes survives.",
            "bfb38768051f4d948bd9417cb4d2353ac210ea2536c2c5141a9b9b6c76e394ef":
                "repeated indices are legal in fancy indexing; the problem is silent, which makes it dangerous.",
        },
    ),
    "dropout_test_time": Question(
        text=("A layer uses inverted dropout with p_drop = 0.2 during training (kept units are multiplied by "
              "1 / 0.8). What must the layer do at test time?"),
        options={
            "a": "multiply every activation by 0.8, the keep probability",
            "b": "multiply every activation by 1 / 0.8 once more",
            "c": "nothing: it is the identity, because training already keeps E[output] = input",
            "d": "drop 20% of the units at random, exactly as in training",
        },
        answer_digest="639e711341f92494d7f94e9e6dd579b7168209fe0cfd5e62ba30372422a88056",
        feedback={
            "1a8ed73480ba459142103018d17d48494ffdbbfec0d40c2c7db7274fc0da5daa":
                "that is the ORIGINAL (non-inverted) dropout, which does not scale in training; inverted dropout "
                "moved the scaling into training so test time needs nothing.",
            "0d21d16400fbac260ce6a6520245e488aaa328ba6008a1e5b6588710ebfee13b":
                "the 1 / (1 - p) already happened during training; applying it again makes test activations 25% "
                "too large.",
            "c23df5b484bb4c0800cee064b21a3d645dc358bf255850982540de7e5e684afc":
                "random dropping at test time makes predictions noisy; dropout is turned off in eval mode.",
        },
    ),
    "loss_scale_overflow": Question(
        text=("Mixed-precision training with dynamic loss scaling (PyTorch's GradScaler). After unscaling, one "
              "gradient entry of this step is inf. What happens?"),
        options={
            "a": "the inf entries are clipped to 65504 and the step is taken",
            "b": "the step is skipped (weights unchanged), the scale is halved and the count of good steps reset",
            "c": "the step is taken with the finite entries only; the inf entries are set to 0",
            "d": "the scale is doubled so that the next step has more headroom",
        },
        answer_digest="dbd9b1ca34d30b60190d8a1312ba8d2765df573c2877069e2785541985434012",
        feedback={
            "c3acd676be72c6cf59d37ed28d3fdfb8d357988bcea1d0ba47dfb575d80ca031":
                "an overflow means the scaled values are meaningless; clipping them would take a wrong step.",
            "364426b2b64f99246bd849a04a5e852f375d5914cf67bd38ad5d58c564bfdb26":
                "a partial step with some gradients zeroed is a wrong step; the whole step is skipped.",
            "80ab6a25d3bb20ba62e99634ec3ff4a404d482385af9e4a168e1ea7f06210ea4":
                "an overflow means the scale is too LARGE: it is halved; it grows only after many good steps.",
        },
    ),
    "accumulation_scale": Question(
        text=("You train with a mean loss but the batch of 32 does not fit in memory, so you run 4 micro-batches of "
              "8, calling backward() on each micro-batch's MEAN loss without zero_grad in between, then one "
              "optimizer step. To step with the gradient of the mean loss over all 32 examples you must:"),
        options={
            "a": "nothing: accumulating the four gradients already gives it",
            "b": "divide each micro-batch loss by 4 before backward() (equivalently, the accumulated gradient by 4)",
            "c": "divide each micro-batch loss by 32 before backward()",
            "d": "call zero_grad() between the micro-batches",
        },
        answer_digest="bb07fb211c5d1bdff5cecae7a5eb033d5fcde19def74741c486db31dccf0c35d",
        feedback={
            "2cf56b5eb7e05c70ee662e79b8d07f9633c019cb74421aa2a20881434d264c49":
                "the sum of four mean-loss gradients is 4 times the full-batch gradient: the step would be 4x too "
                "large.",
            "c75e80310f524ea6ec31770994326e3e5165ed72ba6dda660203dc4bf7950089":
                "each micro-batch loss is already a mean over its 8 examples; dividing by 32 more makes the "
                "gradient 8x too small.",
            "76d803061853408573aba8ed338ac3335e278b025801b6d9426967c22e0b5c38":
                "zero_grad() in between throws away all but the last micro-batch's gradient.",
        },
    ),
}
