"""Rules that act on one word each, for tests of what the proxy does with a verdict:
"tagme" tags (6), "holdme" quarantines (12), "rejectme" rejects (20)."""

WORD_RULES = """\
- id: TEST_TAG
  description: tag word
  score: 6
  matchers:
    word:
      target: body
      phrases: [tagme]
  condition: word
  examples:
    must_match: [{body: tagme}]
    must_not_match: [{body: hello}]
- id: TEST_HOLD
  description: hold word
  score: 12
  matchers:
    word:
      target: body
      phrases: [holdme]
  condition: word
  examples:
    must_match: [{body: holdme}]
    must_not_match: [{body: hello}]
- id: TEST_REJECT
  description: reject word
  score: 20
  matchers:
    word:
      target: body
      phrases: [rejectme]
  condition: word
  examples:
    must_match: [{body: rejectme}]
    must_not_match: [{body: hello}]
"""
