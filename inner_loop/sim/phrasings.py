"""The simulated models' vocabulary of meaning: the phrasings each instruction is recognised in.

Each feature is a tuple of regexes over one *normalised clause* (lower case, one space, curly
quotes straightened, number words one..ten as digits; see lexicon.normalise). Concept sets (the
macros below) give synonyms and word order; several patterns carry their own negation ("no
negative items", "never finalise a question that ... could answer without reading ...") because
that negation *is* the instruction. Whether a match counts (scope of a negation before it, hedges,
quotation, labels, the paper and the feedback) is decided in lexicon.py, not here.
"""

from __future__ import annotations

MACROS = {
    "DOC": r"(?:paper|article|work|publication|manuscript|study|source(?: text)?|document|text)",
    "THIS": r"(?:this|the|that|our|given|provided|source|specific)",
    "READ": r"(?:read(?:ing)?|seen|seeing|see|studied|studying|consult(?:ing|ed)?|access(?:ing)?(?: to)?|looked at|looking at)",
    "WHO": r"(?:model|reader|solver|llm|expert|person|someone|anyone|anybody|researcher|student|system|practitioner|generalist|outsider|one|people)",
    "ANS": r"(?:answer(?:ed|able|ing|s)?|solved?|solv(?:es|ing)|respond|reply|get (?:it|this|the answer) right|work (?:it|this) out)",
    "NEG": r"(?:not|never|n't|no)",
    "WEIGHT": r"(?:weights?|scores?|points?|rubric items?|criteria|items?)",
    "LEAKV": r"(?:contain|state|include|mention|reveal|give away|hint at|restate|repeat|carry|spell out|disclose|leak)",
    "FACTS": r"(?:(?:key |core |answer'?s? |reference answer'?s? )?(?:facts?|claims?|points?|findings?|information|content|details?))",
    "HARD": r"(?:harder|more specific|more obscure|deeper|less obvious|more detailed|more difficult|tougher|more technical|narrower|finer[- ]grained|more demanding|more challenging)",
    "EASYW": r"(?:simple|simpler|easy|easier|accessible|basic|introductory|approachable|straightforward|beginner[- ]friendly|gentle|general)",
}

FEATURES: dict[str, tuple[str, ...]] = {
    # challenger: a question only a reader of this paper can answer (the paper's self-test)
    "self_test": (
        r"(?:whether|if)\b.{0,90}?\b(?:could|can|would|is able to|be able to|is answerable|be answered|answerable)\b.{0,70}?\bwithout\b.{0,25}?\b{DOC}",
        r"\b{WHO}s? (?:who|that) (?:has|have|had)?\s?{NEG} (?:yet |ever )?{READ}\b.{0,25}?{DOC}\b.{0,60}?\b(?:unable|not be able|cannot|can't|could not|couldn't|should not|shouldn't|must not|mustn't|fail|impossible)",
        r"\b(?:whether|if)\b.{0,40}?\b{WHO}s? (?:who|that) (?:has|have|had)?\s?{NEG} (?:yet |ever )?{READ}\b.{0,25}?{DOC}\b.{0,40}?\b(?:could|can|would|might)\b",
        r"\bonly (?:a |an |the )?{WHO}s? (?:who|that) (?:has|have|had) {READ}\b.{0,25}?{DOC}\b.{0,50}?\b{ANS}",
        r"\b{ANS}\b.{0,50}?\b(?:requires?|needs?|depends? on|impossible without|only possible (?:after|with|by))\b.{0,20}?\b(?:reading|knowledge of|access to|having read) {THIS} {DOC}",
        r"\b(?:not|never|un)[- ]?(?:be )?(?:answerable|guessable|solvable) (?:from|with|by|using) (?:general|background|common|prior|world) knowledge",
        r"\b(?:paper|article)[- ]specific (?:self[- ]?test|check|test)",
        r"\b(?:run|perform|do|apply|use|include|carry out|add) (?:a |the |this )?(?:quick )?self[- ]?(?:test|check)",
        r"\bcould (?:a|an|any) (?:strong|expert|capable|frontier|general|well[- ]read|large) (?:model|reader|solver|llm)s? (?:still )?{ANS}",
        r"\b(?:never|do not|don't|avoid)\b.{0,40}?\bquestions?\b.{0,40}?\b{WHO}s?\b.{0,40}?\b{ANS}\b.{0,30}?\bwithout\b.{0,25}?{DOC}",
    ),
    # challenger: the context must not carry the answer (strong form: the facts, or a check)
    "no_leak_strict": (
        r"\b(?:check|verify|compare|go through|examine|inspect|review|test|scan|read) (?:each|every|all)(?: of the| the)? (?:context(?:'s)? |setting'?s? |scene[- ]setting )?sentences?",
        r"\bsentence by sentence\b.{0,60}?\bcontext|\bcontext\b.{0,60}?\bsentence by sentence",
        r"\b(?:none of|no) (?:the )?{FACTS}(?: of the (?:reference )?answer| from the (?:reference )?answer| in the (?:reference )?answer)?\b.{0,30}?\b(?:appear|be (?:stated|mentioned|present|included|given|restated)|show up|occur)\b.{0,20}?\bcontext",
        r"\bcontext (?:must|should|may|can|is to|has to)? ?{NEG} (?:ever )?{LEAKV}\b.{0,15}?\b(?:any|a single|one|the|anything from the)\b.{0,25}?\b{FACTS}",
        r"\bkeep (?:all|every|each|the|any)\b.{0,40}?\b{FACTS}\b.{0,40}?\bout of the (?:context|setting|scene)",
        r"\bcontext (?:must|should) {NEG} overlap (?:with )?(?:the )?(?:reference )?answer",
    ),
    # challenger: a weaker mention of leakage (the seed's "do not give away the answer")
    "no_leak_mention": (
        r"\b(?:do not|don't|must not|mustn't|should not|never|avoid|without) (?:give away|giving away|leak|leaking|reveal|revealing|state|stating|hint at|hinting at) the answer",
        r"\banswer leak",
        r"\bcontext (?:must|should) {NEG} (?:give away|reveal|contain|state) the answer",
    ),
    "positive_only": (
        r"\b(?:only|exclusively|strictly|purely) positive (?:integer )?(?:weights|items|criteria|scores|points)",
        r"\bpositive[- ]only\b",
        r"\bnever negative\b|\bnon-?negative (?:weights|integers|items)",
        r"\bno negative (?:items|weights|criteria|entries|penalt(?:y|ies)|points|scores)",
        r"\b(?:do not|don't|never|avoid|without) (?:use |include |write |add |adding |using |including |writing |any )*negative(?:ly weighted)? (?:items|weights|criteria|penalt|points|scores)",
        r"\b(?:drop|remove|omit|leave out|eliminate) (?:all |the |any )?negative(?:ly weighted)? (?:items|weights|criteria)",
        r"\b(?:every|each|all) (?:weights?|items?|criteria) (?:is|are|must be|should be|stay|stays) (?:strictly )?positive",
        r"\bweights?\b.{0,40}?\b(?:must|should|have to|are to) be positive",
    ),
    "integer_literal": (
        r"\b(?:plain|bare|json|literal|unquoted|whole|raw) (?:numbers? or )?integers?\b",
        r"\binteger literals?\b|\bnumeric literals?\b",
        r"\bno (?:plus|\+) signs?|\bwithout (?:a |any )?(?:plus|\+) signs?",
        r"\b(?:not|never) (?:as |in )?(?:a |quoted )?strings?\b",
        r"\b(?:weights?|they|each|every one)\b.{0,25}?\b(?:are|be|as|must be|should be|written as|given as) (?:plain |bare |whole |unquoted |positive )?integers?\b",
        r"\bwithout quotes\b|\bunquoted (?:numbers|weights|values)",
    ),
    "strict_json": (
        r"\b(?:only|just|nothing but|solely) (?:the |a |one |your )?(?:single )?(?:valid |raw |bare |plain )?json\b",
        r"\bno (?:prose|text|commentary|markdown|explanation|preamble|words|remarks|chatter) (?:before|after|around|outside)",
        r"\bno trailing commas?|\bwithout (?:a |any )?trailing commas?",
        r"\bstrict(?:ly)? (?:valid )?json\b",
        r"\b(?:nothing|no (?:other )?text) (?:else )?(?:before|after|outside|around) the (?:json|object|braces)",
        r"\b(?:do not|don't|never) (?:wrap|add|include|put|write)\b.{0,30}?\b(?:prose|commentary|code fences?|fences?|markdown|explanation|preamble)",
        r"\b(?:must|should|has to) parse (?:as|with|under) (?:json|json\.loads|a json parser)",
        r"\bvalid json (?:object )?(?:and nothing else|only)\b",
    ),
    "negatives_required": (
        r"\b\d{1,2}\s?(?:-|–|to)\s?\d{1,2} negative",
        r"\bnegative (?:items|criteria) (?:are )?required",
        r"\b(?:include|add|write|use|give) (?:\d{1,2}|some|a few|several|at least \d{1,2}) negative",
    ),
    # challenger: asked for easy, general questions (a harmful edit)
    "easy": (
        r"\b{EASYW}(?:,? {EASYW})* (?:questions?|examples?|ones|quiz(?:zes)?|items?)\b",
        r"\b(?:main|central|overall|big|high[- ]level) (?:idea|message|point|takeaway)s? of the {DOC}",
        r"\banswerable (?:by anyone|by a general audience|by most readers|without the {DOC})",
        r"\b(?:make|keep) (?:it|the questions?|questions|them) (?:easy|easier|simple|simpler|approachable|accessible)",
    ),
    # refinement: move to harder, more specific content after TOO EASY failures
    "escalate": (
        r"\b{HARD} (?:questions?|details?|facts?|angles?|aspects?|points?|parts?|content|examples?)",
        r"\bdetails? (?:that )?only (?:this|the) {DOC}\b",
        r"\b(?:numbers?|ablations?|design choices?|hyperparameters?|specific results?|equations?)\b.{0,40}?\b(?:only|specific to|stated in|reported in|unique to) (?:this|the) {DOC}",
        r"\b(?:raise|increase|step up|push up) the (?:difficulty|specificity)",
        r"\bmake (?:it|the (?:next )?question|the next example|the next one) (?:harder|more difficult|more specific|tougher)",
        r"\bgo deeper\b|\bdig (?:deeper|into the details)",
    ),
    # refinement: move back toward central content after FAILED ON STRONG failures
    "deescalate": (
        r"\bmore central\b|\bless obscure\b|\bbetter[- ]supported\b|\bmore answerable\b|\bmore mainstream\b",
        r"\bstrong solver (?:also )?failed\b.{0,60}?\b(?:central|main|core)",
        r"\b(?:back off|ease off|step back) (?:to|toward|towards)\b.{0,30}?\b(?:central|core|main)",
    ),
    "new_angle": (
        r"\b(?:entirely |completely |genuinely )?(?:new|different|fresh|another|other|unused) (?:angle|aspect|part|section|topic|facet|perspective|finding)s?",
        r"\b(?:do not|don't|never|avoid|without) (?:repeat|repeating|reuse|reusing|revisit|revisiting|recycle|recycling)\b",
    ),
    # verifier: any mention of leakage
    "leak_check": (r"\bleak", r"\bgives? away\b", r"\breveal", r"\boverlap\w* (?:with )?the (?:reference )?answer"),
    # orchestrator
    "verify_first": (
        r"\bcall_verifier\b",
        r"\bverif(?:y|ier)\b.{0,30}?\bbefore (?:evaluat|solv|scor)",
    ),
}


def expand(pattern: str) -> str:
    for name, body in MACROS.items():
        pattern = pattern.replace("{" + name + "}", body)
    return pattern
