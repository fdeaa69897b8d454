"""Default help content in French, loaded by the instance seed (``pilote seed empty|demo``).

Idempotent: a slug that already exists (even edited or deleted since) is left alone, so a
second seed never overwrites what administrators wrote.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from core.audit import acting_as, record_bulk

SEED_ACTOR = "pilote seed help"

PAGES = [
    {
        "slug": "taux-avancement",
        "title": "Qu'est-ce que le taux d'avancement ?",
        "category": "Comprendre les chiffres",
        "body": """Le **taux d'avancement** indique, entre 0 % et 100 %, où en est un indicateur ou une
politique entre sa **valeur initiale** (le point de départ) et sa **valeur cible** (l'objectif).

- 0 % : la valeur actuelle n'a pas progressé depuis la valeur initiale (ou a reculé) ;
- 100 % : la cible est atteinte ou dépassée ;
- 50 % : la moitié du chemin est parcourue.

Deux taux sont affichés :

- le **taux global**, mesuré par rapport à la cible finale de la politique ;
- le **taux annuel**, mesuré par rapport à la cible de l'année en cours.

Le taux d'avancement est **calculé** à partir des valeurs saisies ou importées : personne ne le
saisit. Il est distinct de la **météo**, qui est une appréciation donnée par une personne sur la
capacité à atteindre la cible.

Voir aussi : [Comment est-il calculé ?](/aide/calcul-avancement)
""",
    },
    {
        "slug": "calcul-avancement",
        "title": "Comment le taux d'avancement est-il calculé ?",
        "category": "Comprendre les chiffres",
        "body": """## Pour un indicateur

Pour un indicateur à la hausse :

> taux = 100 × (valeur actuelle − valeur initiale) / (cible − valeur initiale)

La formule est inversée pour un indicateur à la baisse. Le résultat est arrondi à deux
décimales puis borné entre 0 et 100. Si la valeur initiale dépasse déjà la cible, le taux vaut
100 % quand la valeur actuelle la dépasse aussi, 0 % sinon.

- **Valeur actuelle** : la dernière valeur mesurée (une valeur par mois : la plus récente du mois compte) ;
- **valeur initiale** : la dernière valeur initiale enregistrée ;
- **cible** : la cible finale (la plus lointaine) pour le taux global, la cible de l'année en
  cours pour le taux annuel.

## Pour une politique : des indicateurs pondérés

Le taux d'une politique est la **moyenne des taux de ses indicateurs, pondérée par leur poids**
au niveau territorial considéré. Les poids sont ramenés à 100 sur les indicateurs qui
s'appliquent à ce territoire. Si un indicateur pondéré n'a pas de taux (valeur manquante),
le taux de la politique **n'est pas calculé** et la page indique l'indicateur manquant.

Le taux d'un **projet structurant** est la moyenne simple des taux de ses indicateurs.

## Remontée vers les territoires parents

Les valeurs d'une région ou de la France sont **agrégées** à partir de celles des territoires
qui la composent, selon la méthode propre à chaque indicateur : somme, moyenne, moyenne pondérée
par la population, rapport des sommes (pour un taux), minimum ou maximum. Une valeur saisie
directement à un niveau est utilisée en priorité sur l'agrégat (par exemple une cible
nationale).

Un territoire parent n'est calculé pour une date qu'une fois que tous les territoires qui ont
transmis des valeurs dans les douze derniers mois l'ont fait : une somme partielle ferait croire
à une baisse. Une région est donc aussi fraîche que son département le plus en retard.

## Où voir le détail ?

Sur la page d'une politique, « Comment ce chiffre est-il calculé ? » montre le taux de chaque
indicateur, son poids déclaré et son poids réel, et la date du calcul. Les chiffres sont
recalculés à chaque saisie ou import.
""",
    },
    {
        "slug": "importer-des-donnees",
        "title": "Comment importer des données ?",
        "category": "Saisir et importer",
        "body": """Le menu **Import de fichiers** accepte un fichier **CSV ou XLSX** :

- au **format PILOTE** (colonnes `identifiant_indic`, `zone_id`, `date_valeur`, `type_valeur`
  — `vi`, `va` ou `vc` —, `valeur`), celui déjà utilisé avec PILOTE 2 ;
- ou au **format natif de Pilote** (colonnes `indicator`, `territory_level`, `territory_code`,
  `kind`, `date`, `value`, et en option `target_scope`, `source`).

## Les étapes

1. **Déposez le fichier** : Pilote le vérifie entièrement sans rien écrire. Chaque problème est
   listé avec sa ligne, sa colonne, la valeur et la raison (par exemple une date impossible ou
   un territoire hors de vos habilitations).
2. Sans erreur, un **aperçu** indique, par indicateur, les valeurs créées, modifiées ou
   inchangées.
3. **Confirmez** : l'import est appliqué **en entier ou pas du tout**, et les taux d'avancement
   sont recalculés aussitôt.

Une cellule vide n'efface jamais une valeur existante. Un import peut être **annulé** depuis la
liste des imports tant que personne n'a modifié les valeurs qu'il a écrites.

Les nombres acceptent la virgule ou le point comme séparateur décimal ; les pourcentages
s'écrivent entre 0 et 100.
""",
    },
    {
        "slug": "qui-contacter",
        "title": "Qui contacter ?",
        "category": "Contacts",
        "body": """- **Une question sur une politique** (un indicateur, une cible, un chiffre qui
  surprend) : utilisez « Poser une question » sur la page de la politique. Votre question est
  transmise à ses **référents** (directeur de projet, référents du ministère), qui vous
  répondent dans le fil de discussion ; vous êtes prévenu de leur réponse.
- **Vos habilitations** (accès à un territoire ou à une politique) : votre coordinateur
  territorial, votre préfecture, ou une demande d'habilitation si l'instance la propose.
- **Un problème technique** : l'équipe qui administre cette instance de Pilote.

Les contacts nommés de chaque politique figurent dans la rubrique « Contacts » de sa page.
""",
    },
    {
        "slug": "completude",
        "title": "Que mesure la complétude des saisies ?",
        "category": "Saisir et importer",
        "body": """La **complétude** compare les saisies **attendues** aux saisies **reçues** sur une
période : une valeur par période de chaque indicateur (selon sa périodicité), une fois passé son
délai de disponibilité.

Le tableau « Par territoire » compte les sous-territoires ; une ligne sans « contributeur
habilité » signale qu'aucune personne ne peut saisir ces données : c'est à régler avec les
administrateurs. « Ce que je dois saisir » liste vos propres saisies en retard.
""",
    },
    {
        "slug": "saisir-une-valeur",
        "title": "Comment saisir une valeur ?",
        "category": "Saisir et importer",
        "body": """Depuis la page d'une politique, choisissez le territoire puis « Saisir » sur
l'indicateur. Indiquez la **date** de la mesure, la **valeur** et, si possible, sa **source**.

- Chaque modification est conservée dans l'historique de la valeur (qui, quand, comment).
- Si quelqu'un a enregistré la même valeur pendant que vous saisissiez, rien n'est écrasé :
  Pilote vous montre les deux versions.
- Sans droit de saisie, vous pouvez **proposer** une valeur corrigée, validée par un référent.
""",
    },
]

FAQ = [
    ("faq-taux-non-calcule", "Pourquoi le taux d'avancement d'une politique n'est-il pas calculé ?",
     "Un indicateur pondéré n'a pas de taux (valeur initiale, actuelle ou cible manquante). La "
     "page de la politique indique lequel ; dès que la valeur est saisie, le taux est recalculé."),
    ("faq-meteo", "Quelle différence entre la météo et le taux d'avancement ?",
     "Le taux d'avancement est **calculé** à partir des valeurs mesurées. La météo est une "
     "**appréciation** donnée par une personne sur la capacité à atteindre la cible ; elle est "
     "accompagnée d'une synthèse des résultats."),
    ("faq-delai", "Quand mes saisies apparaissent-elles dans les chiffres ?",
     "Immédiatement : les agrégats et les taux d'avancement sont recalculés dans la même "
     "opération que la saisie ou l'import."),
    ("faq-erreur-import", "Mon import est refusé : que faire ?",
     "Le rapport liste chaque problème avec sa ligne et sa colonne. Corrigez le fichier et "
     "déposez-le de nouveau : tant qu'une erreur subsiste, rien n'est écrit. Voir "
     "[Comment importer des données ?](/aide/importer-des-donnees)."),
    ("faq-habilitation", "Je ne vois pas mon territoire ou ma politique : pourquoi ?",
     "Vos habilitations définissent les politiques et les territoires auxquels vous accédez. "
     "Voir [Qui contacter ?](/aide/qui-contacter)."),
    ("faq-historique", "Peut-on retrouver une valeur modifiée par erreur ?",
     "Oui : chaque valeur garde son historique (auteur, date, canal). Un import peut être annulé "
     "en entier depuis la liste des imports."),
    ("faq-question", "Comment poser une question sur une politique ?",
     "Sur la page de la politique, « Poser une question » envoie votre question à ses "
     "référents ; la réponse arrive dans le fil de discussion et vous êtes notifié."),
]


def default_entries() -> list[dict]:
    entries = [{**p, "kind": "page", "position": i} for i, p in enumerate(PAGES)]
    entries += [{"slug": slug, "title": title, "body": body, "kind": "faq",
                 "category": "Questions fréquentes", "position": i}
                for i, (slug, title, body) in enumerate(FAQ)]
    return entries


def seed_help(session, *, audit: bool = True) -> int:
    """Add the default help pages and FAQ entries that are missing; returns how many.

    Bulk inserts, like the rest of the seed: one audit entry for the lot (``audit``; the demo
    loader passes False, its own bulk entry covers the seed).
    """
    from core.db import utcnow
    from core.models import HelpPage, HelpPageVersion

    existing = set(session.scalars(select(HelpPage.slug)))
    entries = [e for e in default_entries() if e["slug"] not in existing]
    if not entries:
        return 0
    now = utcnow()
    ids = session.scalars(insert(HelpPage).returning(HelpPage.id, sort_by_parameter_order=True), [
        dict(slug=e["slug"], title=e["title"], kind=e["kind"], category=e["category"],
             position=e["position"], current_version=1, published=True, created_at=now, updated_at=now)
        for e in entries]).all()
    session.execute(insert(HelpPageVersion), [
        dict(page_id=page_id, number=1, title=e["title"], body_markdown=e["body"].strip(),
             author_id=None, created_at=now) for page_id, e in zip(ids, entries)])
    if audit:
        with acting_as(None, SEED_ACTOR, "seed"):
            record_bulk(session, "seed", "help", {"help_page": len(entries), "help_page_version": len(entries)})
    return len(entries)
