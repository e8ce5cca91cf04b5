"""Multiple-choice questions of notebook 08 (vanishing and exploding gradients). Right letters are stored only as
salted digests (see graders/concepts.py); feedback is keyed by the digest of a wrong option."""

from graders.concepts import Question

QUESTIONS = {
    'clip_vs_decay': Question(
        text=("A 50-layer network's gradient norm suddenly jumps to 1e6 on one batch. What do gradient "
              'clipping and L2 weight decay each do about it?'),
        options={
            'a': 'Both rescale the gradient of this step to a fixed norm; they are interchangeable.',
            'b': ("Clipping rescales this step's gradient to global norm at most max_norm (same direction as the "
                  'raw gradient; with momentum or Adam the step itself is then shaped by the optimizer); weight '
                  'decay only adds lambda * W to the gradient, which cannot cap a 1e6 spike, but keeps the weights '
                  'small over many steps so spikes become less likely.'),
            'c': 'Weight decay caps this step; clipping shrinks the weights toward zero over time.',
            'd': ('Clipping sets the largest gradient entries to zero; weight decay divides the gradient by its '
                  'norm.'),
        },
        answer_digest='1b93a8b6fa5c654368b59885a288d3dcb7e92a34bfa29a2243562acc04e44c98',
        feedback={
            'b55b91fa49a7a27984b65d33be8c788067238321fd7db4a17f7659c0ced2f5f5':
                ("only clipping looks at this step's gradient norm; weight decay adds lambda * W whatever the "
                 'gradient is.'),
            'e9aefd8ba8513ae77c47554f9fde23bd2ebebd62f9153f2e8863685137cd046e':
                'the two roles are swapped.',
            '7759ec3ceaa945422fbad2becb00368258aba60ab422b83b50f4c4c5f8207692':
                ('clipping by norm rescales every entry by one common factor (the direction is kept); nothing is '
                 "zeroed, and weight decay does not look at the gradient's norm."),
        },
    ),
    'zero_init': Question(
        text=('A one-hidden-layer tanh network has every weight initialized to the same constant 0.5 (biases '
              '0). After 1000 steps of gradient descent, what holds for the hidden units?'),
        options={
            'a': 'They have become different, because the data points differ from each other.',
            'b': 'Their weights are all still exactly 0.5: nothing can change.',
            'c': ('They all still compute the same function: each receives the same gradient at every step, so the'
                  ' layer behaves like a single unit.'),
            'd': 'Half of them die, as ReLU units do.',
        },
        answer_digest='7b4aeecb621f643c879e2dac54ed950411b85f0d0cdee181750729ef530266f8',
        feedback={
            '1dc68742deeb5884b8c653f3d310cdfd5f0d827087b29d64489acd07c14e270a':
                ('every hidden unit sees the same inputs through the same weights, so its output, and hence its '
                 "gradient, equals every other unit's for every example: different data points cannot break the "
                 'tie.'),
            'd16641bb64b63eb8ec558ec9497b27bd60fd6438a0dc54fce40edb1d748eed4e':
                'the weights do change (the gradient is not zero), but all units change in exactly the same way.',
            'f4be387fd66285dc13082e45b63235a2e5d090c0793bccc3588952cdf135ea43':
                'tanh units do not die; the problem is that they stay identical.',
        },
    ),
}
