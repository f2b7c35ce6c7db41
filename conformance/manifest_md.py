#!/usr/bin/env python3
"""Render conformance/MANIFEST.md from conformance/manifest.json (stdlib only, Python 3.6+)."""
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cell(text):
    text = '' if text is None else str(text)
    return text.replace('|', '\\|').replace('\n', ' ')


def code(text):
    text = cell(text).replace('`', "'")
    return '`%s`' % text if text else ''


def render(doc):
    out = []
    w = out.append
    w('# Example corpus manifest')
    w('')
    w('Generated from `manifest.json` by `manifest_md.py`; do not edit by hand.')
    w('')
    examples = doc.get('examples', [])
    w('## Examples (%d)' % len(examples))
    w('')
    w('| example | seed | blocks | shows | fails by design | changes |')
    w('|---|---|---|---|---|---|')
    for e in examples:
        name = e['example']
        if e.get('fixed_variant_of'):
            name += ' (fixes %s)' % e['fixed_variant_of']
        w('| %s | %s | %s | %s | %s | %s |' % (
            code(name), cell(e['seed'][:3]),
            cell(', '.join(str(b) for b in e['blocks']) or 'none (see below)'),
            cell(e['shows']), cell(e.get('fails_by_design') or ''), cell(e['changes'])))
    w('')
    outside = [e for e in examples if not e['blocks']]
    if outside:
        w('Examples with no block of their seed (the seed names the program; its code is elsewhere):')
        w('')
        w('| example | source |')
        w('|---|---|')
        for e in outside:
            w('| %s | %s |' % (code(e['example']), cell(e.get('source', ''))))
        w('')
    planned = doc.get('planned', [])
    w('## Planned (%d)' % len(planned))
    w('')
    w('| example | seed | issue | notes |')
    w('|---|---|---|---|')
    for p in planned:
        w('| %s | %s | %s | %s |' % (code(p['example']), cell(p['seed']), cell(p.get('issue')),
                                     cell(p.get('notes', ''))))
    w('')
    w('## Seeds')
    for s in doc['seeds']:
        blocks = s['blocks']
        n_ex = sum(1 for b in blocks if 'example' in b)
        w('')
        w('### %s' % s['file'])
        w('')
        w('%d fenced blocks: %d part of examples, %d not examples.' % (len(blocks), n_ex, len(blocks) - n_ex))
        w('')
        w('| # | line | first line | example / reason | notes |')
        w('|---|---|---|---|---|')
        for b in blocks:
            what = code(b['example']) if 'example' in b else 'not: ' + cell(b['not_example'])
            notes = b.get('notes', '')
            if b.get('fixed_variant'):
                notes = (notes + '; ' if notes else '') + 'fixed: ' + b['fixed_variant']
            w('| %d | %d | %s | %s | %s |' % (b['index'], b['line'], code(b['first_line'][:70]), what, cell(notes)))
        if s.get('unfenced'):
            w('')
            w('Unfenced:')
            w('')
            w('| line | first line | example / reason | notes |')
            w('|---|---|---|---|')
            for u in s['unfenced']:
                what = code(u['example']) if 'example' in u else 'not: ' + cell(u['not_example'])
                w('| %d | %s | %s | %s |' % (u['line'], code(u['first_line'][:70]), what, cell(u.get('notes', ''))))
    w('')
    return '\n'.join(out)


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(HERE, 'manifest.json')
    dst = argv[2] if len(argv) > 2 else os.path.join(HERE, 'MANIFEST.md')
    with io.open(src, encoding='utf-8') as f:
        doc = json.load(f)
    text = render(doc)
    with io.open(dst, 'w', encoding='utf-8') as f:
        f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
