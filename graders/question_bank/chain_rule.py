"""Interview questions of notebook 01 (the chain rule): multiply along a path, add across paths, shapes of the
matrix form. Right letters are stored as digests (see graders/concepts.py)."""

from graders.concepts import Question

QUESTIONS = {
    'chain_fanout_sum': Question(
        text=('x feeds two intermediate nodes, u = a(x) and v = b(x), and the output is L = h(u, v). Which '
              'expression is dL/dx?'),
        options={
            'a': '(dh/du * du/dx) * (dh/dv * dv/dx): the chain rule multiplies everything it meets',
            'b': 'dh/du * du/dx + dh/dv * dv/dx',
            'c': '(dh/du + dh/dv) * (du/dx + dv/dx)',
            'd': 'the larger of the two products, since the dominant path decides the gradient',
        },
        answer_digest='161f6ea3fa0e6b18abec00299613e0783a6a1fbf365f44c074fcd7e5c9943a10',
        feedback={
            'b6c5aee9e49c3e71333ddca4447cc0044a30529ca2c194d55f2bce2f477c305d':
                ('multiplication happens ALONG one path (one stage after another); two different paths are '
                 'alternatives whose effects add up, so their products are summed.'),
            '54942d7c641657b5310c383ddcf4e3f2990a1213d5baefd4ca7d94dcd26d4aef':
                ('expanding this product creates cross terms such as dh/du * dv/dx, which belong to no path from x '
                 'to L.'),
            '262fedc13a269266e2d8dc477e3d92418054eeffe0b3074f2245fdfbcb628ab0':
                'every path contributes; a small path product still changes L when x moves, so none may be dropped.',
        },
    ),
    'chain_lsq_shape': Question(
        text=('X has shape (N, D), w has shape (D,), y has shape (N,) and L = sum((X @ w - y)**2). What is the shape'
              ' of dL/dw, and why?'),
        options={
            'a': '(N,): one derivative per training example, like the residual',
            'b': '(D, N): the transposed Jacobian of the residual with respect to w',
            'c': '(D,): one partial derivative per parameter, the shape of w',
            'd': '(1,): the loss is a scalar, so its gradient is one number too',
        },
        answer_digest='a843293448668acf0e12001b453fb15262d6293f08e0763383bcccd476e0e8c4',
        feedback={
            '224ff9e7afc4467565542ed80db248236a4aabeb47bd5ce09999380e9190f369':
                ('(N,) is the shape of the residual r and of dL/dr = 2 r, one step before the end; the chain still '
                 'has to go through r = X w - y.'),
            '2eda79585b02cc319f81beedfe5b5abbc3180f0df3ad480c6039b0137289d1b0':
                ('the Jacobian dr/dw is (N, D), but dL/dw is that Jacobian multiplied by the vector dL/dr, which '
                 'leaves one number per entry of w.'),
            'ff8bf913f05ea81a019c7626b0f0fd811e4adaf0c2fb68124f8e51b3050e4b90':
                ('the loss is a scalar, its gradient is not: one partial derivative per parameter, so it has D '
                 'entries.'),
        },
    ),
    'chain_matrix_backward': Question(
        text=('A layer computes y = W x with W of shape (M, D) and x of shape (D,). Given g = dL/dy of shape (M,), '
              'what does the backward pass return as dL/dx?'),
        options={
            'a': 'W @ g',
            'b': 'W.T @ g',
            'c': 'g * W (elementwise, broadcast)',
            'd': 'np.sum(W, axis=0) * g',
        },
        answer_digest='5d791d3843724b585907d59a505da00ecd1ad54ba72c0bf9e172322a261cb863',
        feedback={
            '986687be378fd27b61e23522a20876cf52ffcd07650ee997071731b59312f7d1':
                ('W has shape (M, D) and g has shape (M,): W @ g does not even have matching shapes unless M = D, '
                 'and then it mixes the wrong indices. dL/dx_d = sum over m of g_m W[m, d], a sum over the ROWS of '
                 'W.'),
            'ee9753c6d4b54f41062b62ca7dbe1615ca3e2f5ca70d6bd969fc9a6816f5d079':
                ('this gives an (M, D) array, not a vector like x; the chain rule in matrix form is a product with '
                 'the transposed Jacobian, not an elementwise scaling.'),
            '402c45582c33d4f3e626a4a3617b0099f0c9e521ddc1a638cf1a60028cf13380':
                ('summing W first throws away which output each weight feeds; each g_m must be paired with row m of '
                 'W before summing.'),
        },
    ),
}
