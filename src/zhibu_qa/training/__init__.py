"""Learning the answerer's two decisions from public reading-comprehension data.

`mrc` turns SQuAD-style files (CMRC 2018, DRCD) into articles, a fixed train/held-out split and an
evaluation dataset in the project's format; `fit` builds sentence and answerability examples with
the project's own retriever and fits the small models `answer.selector` and `answer.answerability`
load. Nothing here runs when answering questions.
"""
