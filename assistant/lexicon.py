"""Word lists for the French analyzer: stop words, question words, synonyms, an English glossary.

All entries are folded (lower case, no accents). Synonyms map the words candidates use to the
words the documents use; they widen what a question can match, never what an answer says.
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    """
    a au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les leur
    leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
    ses son sur ta te tes toi ton tu un une vos votre vous c d j l m n s t y ete etre est sont
    etait etaient sera seront serait ai as avons avez ont avait fut cela ca ceci celui celle ceux
    celles ici la-bas alors aussi bien tres plus moins peu tout tous toute toutes autre autres
    donc or ni car si sinon puis comme lorsque quand dont ou quoi lequel laquelle lesquels
    lesquelles auquel auxquels duquel y-a-t-il est-ce est-ce-que ya va vont fait font etc hein
    the of and or to in on for with by from at as is are was were be been being it its this that
    these those there their they them he she his her i you your we our my me do does did can
    could should would will shall may might must have has had an a not no yes so if then than
    about into over under what which who whom whose when where why how
    """.split()
)

# Words that shape a question but do not say what it is about: never "key terms". Common verbs,
# adverbs and generic nouns of everyday questions; a topic word (« salaire », « distance »,
# « Lyon ») must stay out of this list, since an unknown topic word is what makes the assistant
# say that the documents do not answer.
QUESTION_WORDS = frozenset(
    """
    combien quel quelle quels quelles comment pourquoi quand ou qui quoi koi ki kan cb cmb kel
    kelle keske quest quelqu
    faut falloir faudrait peut peux peuvent pouvoir puis puisse pourrais pourrait savoir sais
    sait dire dis dit donne donner donnez explique expliquer expliquez existe existent avoir
    etre faire fais fait font aller vais va voir vois trouver trouve trouvent cherche chercher
    cherches regarde regarder consulter consulte obtenir connaitre connait comprendre prendre
    mettre met passer passe rester reste devoir dois doit doivent demander demande penser
    pense croire crois vouloir veux voudrais voulez aimerais souhaite souhaiterais
    possible exactement precisement vraiment bien svp stp merci bonjour salut hello coucou
    info infos information informations renseignement renseignements besoin question questions
    truc trucs genre type types sorte sortes forme formes facon maniere gros bah ben ouais oui non
    ok chose choses moment aujourd hui actuellement concretement sinon deja encore toujours
    jamais juste seulement simplement vraiment surtout notamment environ sous parmi entre vers
    chez selon depuis pendant avant apres sans gens personne quelqu quelque chaque plusieurs
    date annee jour prevu prevue indique indiquee indiquees indiques mentionne mentionnes
    different differente differentes differents difference total totale nombre signifie sigle
    veut dire ouvert ouverte ouverts coup fois cas partir partie etape niveau-la cela
    suis es sommes etes sera seront serait serais ai as avons avez ont avait
    principal principale principaux principales exact exacte exactes general generale
    clique cliquer cliquez ici lien important urgent additionne additionner ajoute ajouter somme
    calcule calculer pe pk pq stp svp tt ya
    what how many much does do is are tell please explain which who when where mean means
    there any give list name number total stand does did kind sort get about
    """.split()
)

# Candidate wording -> document wording (each value is analysed like passage text).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "un": ("1",),
    "une": ("1",),
    "deux": ("2",),
    "trois": ("3",),
    "quatre": ("4",),
    "cinq": ("5",),
    "six": ("6",),
    "premier": ("1",),
    "deuxieme": ("2",),
    "second": ("2",),
    "troisieme": ("3",),
    "duree": ("heures",),
    "dure": ("heures",),
    "durer": ("heures",),
    "longtemps": ("heures",),
    "temps": ("heures",),
    "h": ("heures",),
    "heure": ("heures",),
    "boulot": ("métier", "emploi"),
    "job": ("métier", "emploi"),
    "taf": ("métier", "emploi"),
    "travail": ("emploi", "métier"),
    "poste": ("emploi",),
    "bosse": ("expérience", "emploi"),
    "bosser": ("expérience", "emploi"),
    "bossé": ("expérience",),
    "travaille": ("emploi",),
    "travailler": ("emploi",),
    "travaillent": ("emploi",),
    "entrer": ("accès", "accéder"),
    "rentrer": ("accès", "accéder"),
    "entree": ("accès", "entrée"),
    "admission": ("accès", "prérequis"),
    "inscrire": ("accès",),
    "inscription": ("accès",),
    "conditions": ("prérequis",),
    "condition": ("prérequis",),
    "requis": ("prérequis",),
    "exige": ("prérequis",),
    "exigee": ("prérequis",),
    "necessaire": ("prérequis", "nécessaires"),
    "diplome": ("titre", "certification"),
    "certifie": ("certificateur", "certification"),
    "certifier": ("certificateur",),
    "delivre": ("certificateur", "certification"),
    "valider": ("certification", "validation"),
    "obtenir": ("certification", "réussite"),
    "decroche": ("certification",),
    "decrocher": ("certification",),
    "reussir": ("réussite",),
    "reussi": ("réussite",),
    "reussissent": ("réussite",),
    "pourcentage": ("taux",),
    "pourcent": ("taux",),
    "stagiaires": ("personnes", "groupe"),
    "participants": ("personnes", "groupe"),
    "eleves": ("personnes", "groupe"),
    "apprenants": ("personnes", "groupe"),
    "promo": ("groupe",),
    "promotion": ("groupe",),
    "classe": ("groupe",),
    "handicape": ("handicap",),
    "handicapes": ("handicap",),
    "handicapee": ("handicap",),
    "adapter": ("aménager", "aménagements"),
    "adaptation": ("aménagements", "adaptation"),
    "adapte": ("aménager",),
    "amenagement": ("aménagements",),
    "partie": ("bloc", "partiel"),
    "morceau": ("bloc", "partiel"),
    "morceaux": ("bloc", "partiel"),
    "module": ("bloc",),
    "modules": ("bloc",),
    "competence": ("compétences", "bloc"),
    "chomage": ("demandeurs d'emploi",),
    "chomeur": ("demandeurs d'emploi",),
    "chomeurs": ("demandeurs d'emploi",),
    "reconvertir": ("reconversion",),
    "reconversion": ("reconversion",),
    "public": ("publics", "personnes"),
    "centre": ("organismes",),
    "centres": ("organismes",),
    "ecole": ("organismes",),
    "organisme": ("organismes",),
    "habilite": ("habilite",),
    "agree": ("habilite",),
    "agrees": ("habilite",),
    "experience": ("expérience",),
    "vae": ("validation des acquis",),
    "mixer": ("mêler",),
    "mixe": ("mêler",),
    "melanger": ("mêler",),
    "combiner": ("mêler",),
    "enregistre": ("enregistré",),
    "cree": ("enregistré",),
    "reconnu": ("enregistré",),
    "missions": ("mission",),
    "role": ("mission",),
    "fait": ("mission",),
    "moniteurs": ("moniteur",),
    "encadrant": ("moniteur",),
    "encadrants": ("moniteur",),
    "voie": ("voies",),
    "moyens": ("voies",),
    "facons": ("voies",),
    "organisateur": ("organismes",),
    "qualite": ("qualiopi", "qualité"),
}

# English question words -> French document words, so English questions match French passages.
ENGLISH_TO_FRENCH: dict[str, tuple[str, ...]] = {
    "training": ("formation",),
    "course": ("formation",),
    "courses": ("formation",),
    "programme": ("formation",),
    "program": ("formation",),
    "hours": ("heures",),
    "hour": ("heures",),
    "last": ("heures",),
    "lasts": ("heures",),
    "duration": ("heures",),
    "internship": ("stage",),
    "placement": ("stage",),
    "placements": ("stage",),
    "work": ("travail", "stage"),
    "short": ("court",),
    "one": ("1",),
    "two": ("2",),
    "three": ("3",),
    "first": ("1",),
    "second": ("2",),
    "third": ("3",),
    "level": ("niveau",),
    "title": ("titre",),
    "qualification": ("titre", "certification"),
    "certificate": ("certification",),
    "certification": ("certification",),
    "certifying": ("certificateur",),
    "certifier": ("certificateur",),
    "body": ("certificateur",),
    "awarding": ("certificateur",),
    "prerequisite": ("prérequis",),
    "prerequisites": ("prérequis",),
    "requirements": ("prérequis",),
    "required": ("prérequis",),
    "requirement": ("prérequis",),
    "entry": ("accès",),
    "access": ("accès",),
    "enter": ("accès",),
    "target": ("publics cibles",),
    "audience": ("publics",),
    "audiences": ("publics",),
    "people": ("personnes",),
    "persons": ("personnes",),
    "group": ("groupe",),
    "size": ("groupe",),
    "blocks": ("blocs",),
    "block": ("bloc",),
    "units": ("blocs",),
    "unit": ("bloc",),
    "modules": ("blocs",),
    "skills": ("compétences",),
    "competencies": ("compétences",),
    "workshop": ("atelier",),
    "instructor": ("moniteur",),
    "supervisor": ("moniteur",),
    "sheltered": ("protégé",),
    "protected": ("protégé",),
    "registered": ("enregistré",),
    "recorded": ("enregistré",),
    "pass": ("réussite",),
    "success": ("réussite",),
    "rate": ("taux",),
    "employment": ("emploi", "insertion"),
    "job": ("emploi", "métier"),
    "jobs": ("emploi",),
    "employed": ("emploi", "insertion"),
    "months": ("mois",),
    "after": ("après",),
    "professionals": ("professionnels",),
    "ways": ("voies",),
    "routes": ("voies",),
    "paths": ("voies",),
    "route": ("voies",),
    "experience": ("expérience",),
    "prior": ("acquis",),
    "learning": ("apprentissages", "acquis"),
    "validation": ("validation",),
    "disability": ("handicap",),
    "disabilities": ("handicap",),
    "disabled": ("handicap",),
    "adjustments": ("aménagements",),
    "accommodations": ("aménagements",),
    "adapt": ("aménager",),
    "adapted": ("aménager",),
    "exams": ("épreuves",),
    "assessment": ("évaluation", "épreuves"),
    "organisations": ("organismes",),
    "organizations": ("organismes",),
    "providers": ("organismes",),
    "provider": ("organismes",),
    "centres": ("organismes",),
    "centers": ("organismes",),
    "find": ("accessible",),
    "quality": ("qualiopi",),
    "hold": ("certifié",),
    "trainees": ("personnes", "groupe"),
    "minimum": ("minimale",),
    "partial": ("partiel",),
    "full": ("complet",),
    "complete": ("complet",),
    "whole": ("complet",),
    "job-seekers": ("demandeurs d'emploi",),
    "jobseekers": ("demandeurs d'emploi",),
    "unemployed": ("demandeurs d'emploi",),
    "career": ("reconversion",),
    "change": ("reconversion",),
    "employees": ("salariés",),
    "staff": ("salariés",),
    "mission": ("mission",),
    "role": ("mission",),
    "production": ("production",),
    "goods": ("biens",),
    "services": ("services",),
    "stand": ("signifie",),
    "esat": ("esat",),
    "ea": ("ea",),
    "rncp": ("rncp",),
}

# What a whole phrase asks for, when no single word says it (patterns on folded text) -> the
# document words that answer that kind of question.
INTENTS: tuple[tuple[str, str], ...] = (
    (
        r"\b(faut|faudrait|besoin|necessaire|requis|exige|obligatoire|need|required|must|have to)\b"
        r".*\b(entrer|rentrer|acceder|acces|inscrire|admis|commencer|formation|enter|start|training)",
        "prérequis",
    ),
    (
        r"\b(ou|where)\b.*\b(trouve|trouver|cherche|chercher|regarde|regarder|consulte|consulter|find|look)"
        r"|\b(trouve|trouver|cherche|chercher|find|look for)\b.*\b(centre|centres|organisme|organismes|ecole)",
        "liste accessible",
    ),
    (
        r"\b(quel|quels|what|which) (genre de |type de |sorte de |kind of )?(public|publics|personnes|people)"
        r"|\bavec qui\b|\baupres de qui\b",
        "personnes situation handicap",
    ),
    (
        r"\bsans (faire |suivre |passer par )?(la |une )?formation\b|\bwithout (doing |taking )?(the )?training",
        "validation des acquis de l'expérience",
    ),
    (
        r"\bqui (peut|peuvent|est concerne|sont concernes|a le droit)|\bpour qui\b|\bwho (can|may|is it for)",
        "publics cibles",
    ),
    (
        r"\b(ou|where|dans quel(le)?s? (structure|structures|etablissement|etablissements|type|lieu))\b"
        r".*\b(travaill\w*|exerc\w*|bosse\w*|work\w*)",
        "exerce principalement",
    ),
)

# Topics candidates ask about that a title's record does not settle (pay, cost, dates, places,
# formats, equivalences…). A question word found here, and nowhere in the documents, means the
# documents do not answer: the assistant says so instead of quoting a nearby passage.
OUT_OF_SCOPE = frozenset(
    """
    salaire salaires remuneration remunere remuneree paye payee paie payer gagne gagner smic net
    brut cout coute couter couts prix tarif tarifs gratuit gratuite payant frais financement
    finance financee financer finances montant euros euro budget aide aides bourse
    session sessions calendrier rentree commence commencer debut debute prochaine prochain
    prochaines inscription inscriptions inscrire delai delais planning horaire horaires
    lieu lieux ville villes region departement adresse pres proximite distance ligne visio
    alternance contrat apprenti apprentie apprentis age ans vieux jeune limite
    dispense dispenses equivalence equivalences allegement passerelle passerelles cap bac bep
    brevet licence master validite valable valide expire expiration renouveler renouvellement
    note notes bareme ecrit ecrite ecrites oral orale orales qcm memoire jury rattrapage
    abandon abandons echec echecs semaines semaine jours weekend week end partiel
    offres offre recrutement recruter embauche embaucher poursuivre poursuite evolution evoluer
    nsf formacode rome remplace remplacer ancien ancienne signe signer parchemin diplome-requis
    salary wage pay paid cost costs price fee fees free funding funded fund money
    start starts session city town online remote distance apprenticeship age exemption
    exemptions equivalence validity valid expire grade grades exam-date weeks days schedule
    """.split()
)
