"""Multiple-choice questions of notebook 03 (backpropagation through a two-layer network).

The right letters are stored only as ``concepts.digest(qid, letter)``; see graders/concepts.py.
"""

from __future__ import annotations

from graders.concepts import Question

QUESTIONS = {
    'two_layer_60_second': Question(
        text='An interviewer asks: "In one minute, what is backpropagation and why do we use it?" Which answer is the strongest?',
        options={
            'a': 'It is the algorithm that updates the weights: it subtracts the learning rate times the gradient from every parameter.',
            'b': 'It is forward-mode differentiation run layer by layer; it is used because it needs no stored activations.',
            'c': 'It estimates each partial derivative by nudging one weight at a time and re-running the network, which is exact enough for training.',
            'd': "The chain rule applied on the computational graph: a forward pass stores the intermediate values, then a backward pass starts from dL/dL = 1 and, at every node, multiplies the incoming gradient by that node's local derivative (summing where a value fans out). Because the loss is one scalar, this reverse order yields the gradient of every parameter in one backward pass that costs about twice the forward pass (about three forward passes in all, however many parameters there are).",
        },
        answer_digest='13c5817de2a27a309a4a476a0cc87118084faff5fe0b83f0751353fb020c6dc4',
        feedback={
            'f3e3f0226f83e7023cb9b70f17e1dab5bdb6fdb03d873b6ea21a3005f51c811f':
                'that is the gradient descent update; backprop is how the gradient it uses is computed.',
            '228175d63ba71132b81636a301d4d8c9d9d286ebbccca59e9f6939205b73992e':
                'that is finite differences (one or two forward passes per parameter): useful to CHECK gradients, far too slow to train.',
            '1ad08f274a7eb1e6fea2f178af4fed18b5da44f07fcb82d3ba267e16a626c7a5':
                'backprop is reverse mode, and it does need the activations stored by the forward pass (that is its memory cost).',
        },
    ),
    'two_layer_relu_cache': Question(
        text='A code reviewer flags `dz1 = dh1 * (h1 > 0)` in a ReLU backward pass, where h1 = relu(z1) is the cached output, and says it must be `dz1 = dh1 * (z1 > 0)`. What is right?',
        options={
            'a': 'The reviewer is right: the mask built from h1 differs from the mask built from z1 wherever z1 < 0.',
            'b': 'Neither: the ReLU mask should be taken from the upstream gradient, dh1 > 0.',
            'c': 'Both masks are identical for ReLU, because relu(z) > 0 exactly when z > 0. What matters is caching what the backward needs: for ReLU, sigmoid or tanh the output suffices, for GELU (or an activation whose slope cannot be read from its output) you must cache z.',
            'd': 'Both are wrong because ReLU has no derivative at 0, so the gradient must be estimated numerically.',
        },
        answer_digest='a15dd31f5246297c1b004d8808a25d494af63fcbaecebf4287d9aeba51135d5c',
        feedback={
            'f4251a4e90f096d3de9cc68f656614eb5a0279aeaa62898af21c9e379fb9ac67':
                'where z1 < 0, h1 = 0, so (h1 > 0) is False exactly like (z1 > 0): the two masks never differ.',
            'd8ed3b0155d5be47f9fa5a3f15c8262730ce9effd0454e02230a1fe35dbfb0e0':
                'the mask depends on the forward input, not on the sign of the upstream gradient.',
            '290700e51800ce0afe1308f032ca9dad1beccc25498a3bf3395c67b582301543':
                'the kink at 0 is handled by choosing the subgradient 0 there; away from 0 the derivative is exactly 0 or 1.',
        },
    ),
    'two_layer_softmax_grad': Question(
        text='A network ends with softmax and the MEAN cross-entropy over a batch of N examples, p = softmax(scores), Y one-hot. What is dL/dscores?',
        options={
            'a': 'p - Y',
            'b': '(p - Y) / N',
            'c': '(Y - p) / N',
            'd': '-Y / (p N): the softmax Jacobian can be skipped.',
        },
        answer_digest='66b7274d9b7c7a083daa158b93fa757d15d0dc874b0e2c1e060eed2668c58ca0',
        feedback={
            '9b00aaee1410aefd3e040f8b4032ee89af2c2512ea522d5e0f4e1ed3706fc708':
                'that is the gradient of the SUM over the batch (or of a single example); the mean brings a factor 1/N.',
            '646ebbc7b26ce9e2d3008d5edbcef9b05f3215b22b9235020b05dd1193b3096d':
                'sign flipped: increasing the true class score lowers the loss, so its gradient entry p_y - 1 is negative.',
            'ca9b415d0639b2a65ad02ef77d8e2a2fa1986f5dc9538a7803c2cdcf44d7ec8f':
                '-Y/p is dL/dp; you still have to multiply by the softmax Jacobian, which turns it into p - Y.',
        },
    ),
}
