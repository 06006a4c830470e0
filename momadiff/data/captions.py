"""Natural-language captions written from a clip's (content, style) labels.

The Bandai Namco clips carry labels, not sentences. Each clip gets several distinct captions built
from phrase banks (what the body does, per content; how it does it, per style) and sentence
templates, drawn by a random generator seeded with the clip id, so a rebuild writes the same text.

Templates come in two families. The TRAIN family (simple present: "a person walks forward
happily") provides the training captions. The PARAPHRASE family uses sentence structures the
training text never contains (progressive and descriptive: "someone is seen walking forward,
full of joy"); it is stored apart per clip and only used to test whether a model generalises to
unseen phrasings.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

# What the body does: (simple present, gerund) pairs per content label, worded from what the
# retargeted clips do (checked on their root paths, facing and wrist paths): walk-left/right travel
# diagonally forward (15-60 degrees off the facing, which stays ahead), walk-back walks backwards
# facing ahead, walk-turn-left/right turn about 90 degrees, bye and guide use the right hand,
# respond the left, byebye both, and the left/right labels of dataset-2 match the moving hand.
# The dance-short clip lasts about a minute, so neither dance label's words say how long.
CONTENT_PHRASES: dict[str, list[tuple[str, str]]] = {
    "walk": [
        ("walks forward", "walking forward"),
        ("walks straight ahead", "walking straight ahead"),
        ("takes a walk forward", "taking a walk forward"),
        ("walks ahead in a straight line", "walking ahead in a straight line"),
        ("strolls forward", "strolling forward"),
    ],
    "walk-turn-left": [
        ("walks forward and then turns left", "walking forward and then turning left"),
        ("walks and makes a left turn", "walking and making a left turn"),
        ("walks ahead, turns ninety degrees to the left and keeps going",
         "walking ahead, turning ninety degrees to the left and keeping going"),
        ("turns left while walking", "turning left while walking"),
    ],
    "walk-turn-right": [
        ("walks forward and then turns right", "walking forward and then turning right"),
        ("walks and makes a right turn", "walking and making a right turn"),
        ("walks ahead, turns ninety degrees to the right and keeps going",
         "walking ahead, turning ninety degrees to the right and keeping going"),
        ("turns right while walking", "turning right while walking"),
    ],
    "run": [
        ("runs forward", "running forward"),
        ("jogs straight ahead", "jogging straight ahead"),
        ("runs ahead", "running ahead"),
        ("runs in a straight line", "running in a straight line"),
    ],
    "dash": [
        ("sprints forward", "sprinting forward"),
        ("dashes ahead at full speed", "dashing ahead at full speed"),
        ("runs forward as fast as possible", "running forward as fast as possible"),
        ("makes a quick dash forward", "making a quick dash forward"),
    ],
    "walk-back": [
        ("walks backwards", "walking backwards"),
        ("steps backwards", "stepping backwards"),
        ("walks back without turning around", "walking back without turning around"),
        ("moves backwards on foot", "moving backwards on foot"),
    ],
    "walk-left": [
        ("walks diagonally forward to the left", "walking diagonally forward to the left"),
        ("walks forward at an angle to the left", "walking forward at an angle to the left"),
        ("walks toward the front left", "walking toward the front left"),
        ("heads off diagonally to the left on foot", "heading off diagonally to the left on foot"),
    ],
    "walk-right": [
        ("walks diagonally forward to the right", "walking diagonally forward to the right"),
        ("walks forward at an angle to the right", "walking forward at an angle to the right"),
        ("walks toward the front right", "walking toward the front right"),
        ("heads off diagonally to the right on foot", "heading off diagonally to the right on foot"),
    ],
    "bow": [
        ("bows", "bowing"),
        ("bends forward in a bow", "bending forward in a bow"),
        ("bows the upper body", "bowing the upper body"),
        ("makes a polite bow", "making a polite bow"),
    ],
    "bye": [
        ("waves goodbye with the right hand", "waving goodbye with the right hand"),
        ("raises the right hand and waves bye", "raising the right hand and waving bye"),
        ("says goodbye with a wave of the right hand", "saying goodbye with a wave of the right hand"),
        ("waves farewell with one hand", "waving farewell with one hand"),
    ],
    "byebye": [
        ("waves bye-bye with both hands", "waving bye-bye with both hands"),
        ("waves both hands to say bye-bye", "waving both hands to say bye-bye"),
        ("says goodbye by waving both arms", "saying goodbye by waving both arms"),
        ("waves farewell with both hands raised", "waving farewell with both hands raised"),
    ],
    "guide": [
        ("gestures with the right hand to show the way", "gesturing with the right hand to show the way"),
        ("guides someone with the right hand", "guiding someone with the right hand"),
        ("points the way with the right arm", "pointing the way with the right arm"),
        ("shows someone where to go with an open hand", "showing someone where to go with an open hand"),
    ],
    "respond": [
        ("raises the left hand in response", "raising the left hand in response"),
        ("answers by putting the left hand up", "answering by putting the left hand up"),
        ("responds with a raised left hand", "responding with a raised left hand"),
        ("replies to a call by lifting the left arm", "replying to a call by lifting the left arm"),
    ],
    "call": [
        ("calls out to someone", "calling out to someone"),
        ("calls someone, leaning forward", "calling someone, leaning forward"),
        ("calls out to get someone's attention", "calling out to get someone's attention"),
        ("calls to someone with both arms raised", "calling to someone with both arms raised"),
    ],
    "punch": [
        ("throws punches", "throwing punches"),
        ("punches forward with the fists", "punching forward with the fists"),
        ("throws a series of punches", "throwing a series of punches"),
        ("boxes at the air", "boxing at the air"),
    ],
    "kick": [
        ("kicks", "kicking"),
        ("throws a series of kicks", "throwing a series of kicks"),
        ("kicks high with the leg", "kicking high with the leg"),
        ("practices kicking moves", "practicing kicking moves"),
    ],
    "slash": [
        ("slashes with a sword held in both hands", "slashing with a sword held in both hands"),
        ("swings a blade", "swinging a blade"),
        ("cuts through the air with a sword", "cutting through the air with a sword"),
        ("makes slashing attacks", "making slashing attacks"),
    ],
    "dance-long": [
        ("dances", "dancing"),
        ("performs a dance routine", "performing a dance routine"),
        ("does a series of dance moves", "doing a series of dance moves"),
        ("dances, turning and stepping around", "dancing, turning and stepping around"),
    ],
    "dance-short": [
        ("dances", "dancing"),
        ("performs a dance routine", "performing a dance routine"),
        ("does a series of dance moves", "doing a series of dance moves"),
        ("dances, turning and stepping around", "dancing, turning and stepping around"),
    ],
    "wave-both-hands": [
        ("waves with both hands", "waving with both hands"),
        ("waves both arms", "waving both arms"),
        ("raises both hands and waves them", "raising both hands and waving them"),
        ("waves hello with both hands", "waving hello with both hands"),
    ],
    "wave-left-hand": [
        ("waves with the left hand", "waving with the left hand"),
        ("raises the left hand and waves", "raising the left hand and waving"),
        ("waves the left arm", "waving the left arm"),
        ("waves hello with the left hand", "waving hello with the left hand"),
    ],
    "wave-right-hand": [
        ("waves with the right hand", "waving with the right hand"),
        ("raises the right hand and waves", "raising the right hand and waving"),
        ("waves the right arm", "waving the right arm"),
        ("waves hello with the right hand", "waving hello with the right hand"),
    ],
    "raise-up-both-hands": [
        ("raises both hands", "raising both hands"),
        ("lifts both arms up", "lifting both arms up"),
        ("puts both hands up in the air", "putting both hands up in the air"),
        ("raises both arms overhead", "raising both arms overhead"),
    ],
    "raise-up-left-hand": [
        ("raises the left hand", "raising the left hand"),
        ("lifts the left arm up", "lifting the left arm up"),
        ("puts the left hand up in the air", "putting the left hand up in the air"),
        ("raises the left arm overhead", "raising the left arm overhead"),
    ],
    "raise-up-right-hand": [
        ("raises the right hand", "raising the right hand"),
        ("lifts the right arm up", "lifting the right arm up"),
        ("puts the right hand up in the air", "putting the right hand up in the air"),
        ("raises the right arm overhead", "raising the right arm overhead"),
    ],
}


# Everyday wordings of the same actions (issue 17: users say "backs away", "gives a bow", "boxes"),
# written without looking at the everyday test prompts' wording beyond their kinds; merged into
# CONTENT_PHRASES below so every template draws from both.
EVERYDAY_PHRASES: dict[str, list[tuple[str, str]]] = {
    "walk": [
        ("walks along", "walking along"),
        ("goes forward on foot", "going forward on foot"),
        ("paces forward", "pacing forward"),
        ("marches ahead", "marching ahead"),
        ("moves ahead step by step", "moving ahead step by step"),
    ],
    "walk-turn-left": [
        ("walks and veers off to the left", "walking and veering off to the left"),
        ("changes direction to the left while walking", "changing direction to the left while walking"),
        ("walks, then swings round to the left", "walking, then swinging round to the left"),
    ],
    "walk-turn-right": [
        ("walks and veers off to the right", "walking and veering off to the right"),
        ("changes direction to the right while walking", "changing direction to the right while walking"),
        ("walks, then swings round to the right", "walking, then swinging round to the right"),
    ],
    "run": [
        ("jogs along", "jogging along"),
        ("runs at a steady pace", "running at a steady pace"),
        ("trots forward", "trotting forward"),
    ],
    "dash": [
        ("races forward", "racing forward"),
        ("puts on a burst of speed", "putting on a burst of speed"),
        ("sprints off", "sprinting off"),
    ],
    "walk-back": [
        ("backs away", "backing away"),
        ("retreats step by step", "retreating step by step"),
        ("goes backwards", "going backwards"),
        ("walks in reverse", "walking in reverse"),
    ],
    "walk-left": [
        ("walks off at an angle to the left", "walking off at an angle to the left"),
        ("moves forward and to the left", "moving forward and to the left"),
    ],
    "walk-right": [
        ("walks off at an angle to the right", "walking off at an angle to the right"),
        ("moves forward and to the right", "moving forward and to the right"),
    ],
    "bow": [
        ("folds forward from the hips", "folding forward from the hips"),
        ("leans forward to bow", "leaning forward to bow"),
        ("gives a bow", "giving a bow"),
        ("bows in greeting", "bowing in greeting"),
    ],
    "bye": [
        ("says goodbye with the right hand", "saying goodbye with the right hand"),
        ("signals goodbye by waving the right hand", "signalling goodbye by waving the right hand"),
    ],
    "byebye": [
        ("flaps both hands to say goodbye", "flapping both hands to say goodbye"),
        ("waves both hands goodbye", "waving both hands goodbye"),
    ],
    "guide": [
        ("leads the way, gesturing with the right hand", "leading the way, gesturing with the right hand"),
        ("directs someone with the right arm", "directing someone with the right arm"),
    ],
    "respond": [
        ("replies with a lifted left hand", "replying with a lifted left hand"),
        ("answers with the left arm up", "answering with the left arm up"),
    ],
    "call": [
        ("shouts to someone", "shouting to someone"),
        ("hollers at someone", "hollering at someone"),
        ("raises the voice to call a person", "raising the voice to call a person"),
    ],
    "punch": [
        ("boxes", "boxing"),
        ("hits out with the fists", "hitting out with the fists"),
        ("throws jabs", "throwing jabs"),
        ("strikes with the fists", "striking with the fists"),
    ],
    "kick": [
        ("kicks with one leg", "kicking with one leg"),
        ("kicks out", "kicking out"),
        ("swings a leg up in a kick", "swinging a leg up in a kick"),
        ("lashes out with a foot", "lashing out with a foot"),
    ],
    "slash": [
        ("swings a sword with both hands", "swinging a sword with both hands"),
        ("chops with a two-handed sword", "chopping with a two-handed sword"),
        ("attacks with a sword", "attacking with a sword"),
    ],
    "dance-long": [
        ("dances around", "dancing around"),
        ("moves to music", "moving to music"),
        ("grooves", "grooving"),
    ],
    "dance-short": [
        ("dances around", "dancing around"),
        ("moves to music", "moving to music"),
        ("grooves", "grooving"),
    ],
    "wave-both-hands": [
        ("greets with both hands waving", "greeting with both hands waving"),
        ("waves both hands in the air", "waving both hands in the air"),
    ],
    "wave-left-hand": [
        ("says hello by waving the left hand", "saying hello by waving the left hand"),
        ("gives a left-hand wave", "giving a left-hand wave"),
    ],
    "wave-right-hand": [
        ("says hello by waving the right hand", "saying hello by waving the right hand"),
        ("gives a right-hand wave", "giving a right-hand wave"),
    ],
    "raise-up-both-hands": [
        ("stretches both arms upward", "stretching both arms upward"),
        ("throws both hands up", "throwing both hands up"),
        ("reaches up with both arms", "reaching up with both arms"),
    ],
    "raise-up-left-hand": [
        ("puts the left arm up", "putting the left arm up"),
        ("lifts the left hand high", "lifting the left hand high"),
        ("holds up the left hand", "holding up the left hand"),
    ],
    "raise-up-right-hand": [
        ("puts the right arm up", "putting the right arm up"),
        ("lifts the right hand high", "lifting the right hand high"),
        ("holds up the right hand", "holding up the right hand"),
    ],
}
for _content, _phrases in EVERYDAY_PHRASES.items():
    CONTENT_PHRASES[_content] = CONTENT_PHRASES[_content] + _phrases


@dataclass(frozen=True)
class StylePhrases:
    """How a style can be said: as an adverb, as a clause after the action, as the subject, and as
    a comparison ("like ...")."""

    adverbs: tuple[str, ...]
    manners: tuple[str, ...]
    subjects: tuple[str, ...]
    likes: tuple[str, ...]


STYLE_PHRASES: dict[str, StylePhrases] = {
    "normal": StylePhrases(
        ("normally", "casually", "in an ordinary way", "in a natural way"),
        ("in a relaxed, everyday manner", "without any particular emotion", "calm and neutral"),
        ("a person", "someone", "a character", "an ordinary person"),
        ("anyone would on an ordinary day", "an average person", "someone going about their day"),
    ),
    "happy": StylePhrases(
        ("happily", "cheerfully", "joyfully"),
        ("full of joy", "with a cheerful spring", "in a great mood"),
        ("a happy person", "a cheerful person", "someone in a good mood"),
        ("someone who just heard great news", "a delighted person"),
    ),
    "sad": StylePhrases(
        ("sadly", "gloomily", "dejectedly"),
        ("with the head hanging low", "looking downcast", "in a sorrowful mood"),
        ("a sad person", "a gloomy person", "someone who feels down"),
        ("someone who has lost something dear", "a heartbroken person"),
    ),
    "angry": StylePhrases(
        ("angrily", "furiously", "irritably"),
        ("full of anger", "looking annoyed and tense", "in a bad temper"),
        ("an angry person", "a furious person", "someone in a rage"),
        ("someone who is fuming", "a person losing their temper"),
    ),
    "proud": StylePhrases(
        ("proudly", "confidently", "haughtily"),
        ("with the chest pushed out", "with the chin held high", "full of pride"),
        ("a proud person", "a self-assured person", "someone full of pride"),
        ("someone who owns the place", "a triumphant winner"),
    ),
    "not-confident": StylePhrases(
        ("timidly", "hesitantly", "shyly"),
        ("lacking confidence", "looking unsure", "with hunched, nervous shoulders"),
        ("a shy person", "an insecure person", "someone without confidence"),
        ("someone who is afraid of being noticed", "a nervous beginner"),
    ),
    "masculinity": StylePhrases(
        ("in a manly way", "boldly", "in a masculine way"),
        ("with broad, manly movements", "with a tough, masculine posture", "with wide shoulders"),
        ("a masculine person", "a macho person", "someone with a manly air"),
        ("a tough guy", "a macho man"),
    ),
    "masculine": StylePhrases(
        ("in a manly way", "boldly", "in a masculine way"),
        ("with broad, manly movements", "with a tough, masculine posture", "with wide shoulders"),
        ("a masculine person", "a macho person", "someone with a manly air"),
        ("a tough guy", "a macho man"),
    ),
    "feminine": StylePhrases(
        ("gracefully", "daintily", "in a feminine way"),
        ("with soft, feminine movements", "with elegant, graceful gestures", "with a gentle poise"),
        ("a feminine person", "a graceful person", "someone with a ladylike manner"),
        ("an elegant lady", "a graceful dancer"),
    ),
    "childish": StylePhrases(
        ("childishly", "playfully", "in a childlike way"),
        ("full of childlike energy", "with bouncy, playful movements", "like a kid at play"),
        ("a childish person", "a playful child", "someone acting like a kid"),
        ("a little child", "an excited kid"),
    ),
    "old": StylePhrases(
        ("slowly and stiffly", "feebly", "in an elderly way"),
        ("with a bent back", "with stiff, careful movements", "showing their age"),
        ("an old person", "an elderly person", "a frail old man"),
        ("an old man", "an elderly person with stiff joints"),
    ),
    "elderly": StylePhrases(
        ("slowly and stiffly", "feebly", "in an elderly way"),
        ("with a bent back", "with stiff, careful movements", "showing their age"),
        ("an old person", "an elderly person", "a frail old man"),
        ("an old man", "an elderly person with stiff joints"),
    ),
    "tired": StylePhrases(
        ("wearily", "sluggishly", "tiredly"),
        ("looking worn out", "with heavy, drooping movements", "low on energy"),
        ("a tired person", "a weary person", "someone who is worn out"),
        ("someone at the end of a long day", "a person who needs sleep"),
    ),
    "exhausted": StylePhrases(
        ("wearily", "with great effort", "sluggishly"),
        ("completely exhausted", "barely able to keep going", "drained of all energy"),
        ("an exhausted person", "a worn-out person", "someone on the verge of collapse"),
        ("someone after a marathon", "a person who is utterly spent"),
    ),
    "active": StylePhrases(
        ("energetically", "vigorously", "briskly"),
        ("full of energy", "with lively, vigorous movements", "bursting with vitality"),
        ("an energetic person", "a lively person", "someone full of energy"),
        ("an athlete warming up", "someone bursting with energy"),
    ),
    "youthful": StylePhrases(
        ("youthfully", "lightly", "in a sprightly way"),
        ("with a youthful bounce", "light on their feet", "full of youthful vigor"),
        ("a young person", "a youthful person", "a lively teenager"),
        ("a carefree teenager", "a young student"),
    ),
    "musical": StylePhrases(
        ("theatrically", "rhythmically", "in a showy, musical way"),
        ("as if performing on a musical stage", "with exaggerated, theatrical flair",
         "moving to an imagined rhythm"),
        ("a musical performer", "a stage actor", "a showman"),
        ("a performer in a Broadway musical", "an actor in a stage musical"),
    ),
    "giant": StylePhrases(
        ("heavily", "ponderously", "lumberingly"),
        ("with big, heavy movements", "as if huge and heavy", "with slow, massive strides"),
        ("a giant", "a huge, heavy figure", "someone as big as a giant"),
        ("a giant", "a lumbering monster"),
    ),
    "chimpira": StylePhrases(
        ("like a street thug", "with a swagger", "menacingly"),
        ("with a delinquent's swagger", "slouching with a tough, intimidating attitude",
         "looking for trouble"),
        ("a street thug", "a young punk", "a delinquent"),
        ("a small-time gangster", "a hoodlum looking for a fight"),
    ),
}

# Who does it: neutral words and the pronouns and nouns people use ("he", "a woman").
GENERIC_SUBJECTS = ("a person", "someone", "the person", "a character", "a human", "an individual",
                    "a man", "a woman", "he", "she", "somebody", "a guy")


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# A template draws its words with the clip's generator r and builds one sentence from the action
# (simple present), its gerund and the style's phrases. TRAIN templates use the simple present
# only; PARAPHRASE templates use the gerund in structures that training text never has.
def _t_adverb(r, action, gerund, st):
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} {action} {r.choice(st.adverbs)}."


def _t_subject(r, action, gerund, st):
    return f"{_cap(r.choice(st.subjects))} {action}."


def _t_manner_after(r, action, gerund, st):
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} {action}, {r.choice(st.manners)}."


def _t_manner_before(r, action, gerund, st):
    return f"{_cap(r.choice(st.manners))}, {r.choice(GENERIC_SUBJECTS)} {action}."


def _t_like(r, action, gerund, st):
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} {action} like {r.choice(st.likes)}."


def _t_plain(r, action, gerund, st):
    # No style words: what a user types when the manner does not matter ("a man boxes.").
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} {action}."


def _t_adverb_first(r, action, gerund, st):
    return f"{_cap(r.choice(st.adverbs))}, {r.choice(GENERIC_SUBJECTS)} {action}."


def _t_long(r, action, gerund, st):
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} {action} {r.choice(st.adverbs)}, {r.choice(st.manners)}."


def _p_progressive(r, action, gerund, st):
    return f"{_cap(r.choice(GENERIC_SUBJECTS))} is {gerund} {r.choice(st.adverbs)}."


def _p_seen(r, action, gerund, st):
    return f"We see {r.choice(st.subjects)} {gerund}, {r.choice(st.manners)}."


def _p_shows(r, action, gerund, st):
    return f"The motion shows {r.choice(GENERIC_SUBJECTS)} {gerund} like {r.choice(st.likes)}."


TRAIN_TEMPLATES = {"adverb": _t_adverb, "subject": _t_subject, "manner_after": _t_manner_after,
                   "manner_before": _t_manner_before, "like": _t_like, "plain": _t_plain,
                   "adverb_first": _t_adverb_first, "long": _t_long}
PARAPHRASE_TEMPLATES = {"progressive": _p_progressive, "seen": _p_seen, "shows": _p_shows}


def _rng(clip_id: str, salt: str) -> random.Random:
    # hashlib, not hash(): Python salts str hashes per process, and captions must survive rebuilds.
    seed = int.from_bytes(hashlib.sha256(f"{salt}:{clip_id}".encode()).digest()[:8], "little")
    return random.Random(seed)


def _generate(templates: dict, content: str, style: str, clip_id: str, n: int, salt: str) -> list[str]:
    if content not in CONTENT_PHRASES:
        raise KeyError(f"no phrases for content {content!r}")
    if style not in STYLE_PHRASES:
        raise KeyError(f"no phrases for style {style!r}")
    st = STYLE_PHRASES[style]
    r = _rng(clip_id, salt)
    names = sorted(templates)
    r.shuffle(names)            # which structures a clip gets first varies from clip to clip
    out: list[str] = []
    # Cycle through the templates so every structure is represented, then fill with random draws;
    # the attempt cap only matters if the phrase banks could not yield n distinct sentences.
    for attempt in range(50 * n):
        if len(out) == n:
            break
        name = names[attempt % len(names)] if attempt < len(names) else r.choice(names)
        action, gerund = r.choice(CONTENT_PHRASES[content])
        sentence = templates[name](r, action, gerund, st)
        if sentence not in out:
            out.append(sentence)
    return out


def captions(content: str, style: str, clip_id: str, n: int = 6) -> list[str]:
    """n distinct training captions (TRAIN family) for a clip, deterministic in clip_id."""
    return _generate(TRAIN_TEMPLATES, content, style, clip_id, n, "train")


def paraphrases(content: str, style: str, clip_id: str, n: int = 3) -> list[str]:
    """n distinct held-out captions (PARAPHRASE family, structures absent from training)."""
    return _generate(PARAPHRASE_TEMPLATES, content, style, clip_id, n, "paraphrase")


_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)
_SWAP = {"left": "right", "right": "left"}


def mirror_caption(text: str) -> str:
    """The caption of the left/right mirrored motion: swaps the words left and right (as HumanML3D
    did for its mirrored clips), keeping capitalisation."""
    return _SIDE.sub(lambda m: _SWAP[m.group(0).lower()].capitalize() if m.group(0)[0].isupper()
                     else _SWAP[m.group(0).lower()], text)
