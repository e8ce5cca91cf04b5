"""Multiple-choice questions of notebook 06 (backpropagation through time). Right letters are stored only as
salted digests (see graders/concepts.py)."""

from graders.concepts import Question

QUESTIONS = {
    "bptt_lstm_additive": Question(
        text=("An interviewer asks: why does an LSTM carry gradients over long time lags better than a vanilla "
              "tanh RNN of the same size?"),
        options={
            "a": "Its sigmoid gates have a larger slope than tanh, so each step multiplies the gradient by more.",
            "b": ("The cell state is updated additively, c_t = f_t * c_{t-1} + i_t * g_t, so one step back along "
                  "the cell multiplies the gradient by the forget gate f_t alone: no W_h and no tanh slope. With "
                  "f_t near 1 the product over many steps stays near 1."),
            "c": "It has more parameters, and more parameters always make gradients larger.",
            "d": "It uses truncated BPTT internally, so the gradient never has to travel far.",
        },
        answer_digest="02eb8ca02cf4d8b3d45ce3dea10a5693aa5eb29b7b720cf56652323b3f88c488",
        feedback={
            "51964a5885b47b88044743d73dc488d9a91dc0fd0f372451e4b39a34395bcb6a":
                "the sigmoid slope is at most 1/4, smaller than tanh's 1; the gates help through their VALUE on "
                "the additive cell path, not through their slope.",
            "ce214f055501fcc406afa544fc98fe22dac0a4d6c89a4eeed19ec4ddf89f0729":
                "the parameter count says nothing about the product of per-step factors that decides vanishing.",
            "00df1e2e16bdb3d66fd3a659e08e246936fbec110ccf3f476e4deb01b4b1bbc8":
                "truncation is a training choice that applies to any RNN, and it cuts long-range gradients off "
                "rather than preserving them.",
        },
    ),
    "bptt_truncation": Question(
        text=("Truncated BPTT with window k (every loss term sends its gradient back at most k steps) is used to "
              "train a language model. Which statement is true?"),
        options={
            "a": "It computes the exact gradient of the loss, only faster.",
            "b": "It removes exploding gradients, so gradient clipping is no longer needed.",
            "c": ("It gives a biased gradient: dependencies longer than k steps get no gradient signal, although "
                  "the forward pass still carries the hidden state across them."),
            "d": "It changes the forward pass: the hidden state is reset to zero every k steps.",
        },
        answer_digest="4266d032653423f4dae7cab7dd271ab47117f42e9e0a891f0fb635ce702f2700",
        feedback={
            "f725360d161615fa583e4356e13656c931f16733867b296fb2f2d9fdbbb92de1":
                "the terms that would travel more than k steps are dropped, so the result differs from the full "
                "gradient (you measured the difference in this notebook).",
            "f52f32842c67579b64b975fa428dc6447b04280871599eb1173359950b5c905b":
                "k steps with spectral radius above 1 can still multiply a gradient by a huge factor; clipping "
                "stays in the recipe.",
            "ed7eaab26039250232ee66e0e0d9fe139896a4747de5d6b00338e8ff705e501f":
                "truncation only limits the BACKWARD pass; the state is carried forward (it is merely treated as "
                "a constant by the gradient).",
        },
    ),
    "bptt_clip_direction": Question(
        text=("The global gradient norm of an RNN is 50 and max_norm is 5. What does clipping by the global "
              "norm do to the gradient?"),
        options={
            "a": ("It multiplies every gradient array by the same factor (about 0.1): the gradient keeps its "
                  "direction and gets global norm 5. (With plain SGD the step is lr times that; momentum or Adam "
                  "then transform the clipped gradient, so the step's norm and direction are theirs.)"),
            "b": "It clips every entry to the interval [-5, 5], which keeps the direction.",
            "c": "It rescales each array to norm 5 separately, which keeps the direction.",
            "d": "It sets the gradient to zero for this step, skipping the update.",
        },
        answer_digest="09021202390ec836f12354e218a6632ee2fb1ab9c75228489ab1f122f8eaa44a",
        feedback={
            "017ef0a4d9c1b6e4327ac83281c16ff8278162eca88b4d94af5bdf79852d78cc":
                "that is clipping by VALUE; it changes the direction (large entries are cut, small ones are not).",
            "2bffc356ad2047c0aff83dbed6b4a850baf94a4c58a9a5e47ec9cd70aff903bc":
                "per-tensor clipping scales different arrays by different factors, so the direction of the full "
                "update changes (the CLIP_PER_TENSOR mistake).",
            "d0dc4763fec7cfad2af722c9ea5b2b24b5a811e0e9563b37112de35a0121de15":
                "clipping rescales; skipping a step is a different (rarer) remedy.",
        },
    ),
}
