"""Generic French and English function words: what carries no topic in any question.

Nothing here is about one title or one document. `STOP_WORDS` are skipped everywhere;
`QUESTION_WORDS` (interrogatives, common verbs of asking, politeness, SMS spellings of them) shape a
question but never say what it is about, so they are indexed in passages but never count as a
question's key words. All entries are folded (lower case, no accents).
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    """
    a au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les leur
    leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
    ses son sur ta te tes toi ton tu un une vos votre vous c d j l m n s t y ete etre est sont
    etait etaient sera seront serait ai as avons avez ont avait fut cela ca ceci celui celle ceux
    celles ici alors aussi bien tres plus moins peu tout tous toute toutes autre autres
    donc or ni car si sinon puis comme lorsque quand dont quoi lequel laquelle lesquels
    lesquelles auquel auxquels duquel ya va vont fait font etc hein
    the of and or to in on for with by from at as is are was were be been being it its this that
    these those there their they them he she his her i you your we our my me do does did can
    could should would will shall may might must have has had an not no yes so if then than
    about into over under what which who whom whose when where why how
    """.split()
)

QUESTION_WORDS = frozenset(
    """
    combien quel quelle quels quelles comment pourquoi quand ou qui quoi koi ki kan cb cmb kel
    kelle keske quest quelqu c est ce
    faut falloir faudrait peut peux peuvent pouvoir puisse pourrais pourrait savoir sais
    sait dire dis dit donne donner donnez explique expliquer expliquez existe existent avoir
    faire fais aller vais voir vois trouver trouve cherche chercher regarde regarder
    connaitre connait comprendre devoir dois doit doivent demander demande penser pense croire
    crois vouloir veux voudrais voulez aimerais souhaite souhaiterais
    possible exactement precisement vraiment svp stp merci bonjour salut hello coucou
    info infos information informations renseignement renseignements question questions
    truc trucs genre sorte facon maniere bah ben ouais oui non ok chose choses
    aujourd hui actuellement concretement deja encore toujours jamais juste seulement simplement
    surtout notamment environ sous parmi entre vers chez selon depuis pendant avant apres gens
    quelque chaque plusieurs prevu prevue indique indiquee mentionne signifie veut exact exacte
    suis es sommes etes serais pe pk pq tt jsuis chui qd pr bcp tjrs tjs ds mm dc
    what how many much tell please explain mean means any give name stand kind sort get
    """.split()
)
