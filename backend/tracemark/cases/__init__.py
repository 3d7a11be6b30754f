"""Cases: the domain core of enforcement, free of the web, the chain and the database.

- `workflow`: the case state machine, its history and both parties' views of it;
- `deadlines`, `scheduler`: the stages' deadlines, the pure `due_transitions` and the scheduler service with its
  ports (case repository, action ledger) and in-memory implementations;
- `licence_check`, `image_rights`: the licence check before a claim and every letter, and the rights fields of an image;
- `compensation`, `split`: the compensation matrix (versioned data in `data/`) and the fee split;
- `letters`: letters in the recipient's language (gettext catalogs in `locale/`) and the letter store port;
- `clock`: time as a dependency.
"""

from tracemark.cases.clock import Clock, ManualClock, SystemClock
from tracemark.cases.compensation import (
    Breakdown,
    HolderPrices,
    Medium,
    Prominence,
    Usage,
    UseDescription,
    compute_compensation,
    load_matrix,
)
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition, due_transitions
from tracemark.cases.image_rights import ImageRights, image_rights
from tracemark.cases.letters import (
    InMemoryLetterStore,
    Letter,
    LetterContext,
    LetterDispatcher,
    LetterKind,
    LetterStore,
    LetterTransport,
    choose_language,
    render_letter,
)
from tracemark.cases.licence_check import (
    CheckOutcome,
    HolderFacts,
    LicenceCheck,
    OnChainLicence,
    PageLicenceData,
    UseFacts,
    check_licence,
)
from tracemark.cases.scheduler import (
    ActionLedger,
    CaseRepository,
    DeadlineScheduler,
    InMemoryActionLedger,
    InMemoryCaseRepository,
)
from tracemark.cases.split import Handler, Split, SplitPolicy, split
from tracemark.cases.workflow import (
    Actor,
    Case,
    CaseState,
    ClaimRefusedError,
    Role,
    Standing,
    TransitionError,
    holder_history,
    open_case,
    recipient_history,
    record_answer,
    record_licence_check,
    resume,
    submit_claim,
    transition,
)

__all__ = [
    "ActionLedger", "Actor", "Breakdown", "Case", "CaseRepository", "CaseState", "CheckOutcome", "ClaimRefusedError",
    "Clock", "DeadlinePolicy", "DeadlineScheduler", "DueTransition", "Handler", "HolderFacts", "HolderPrices",
    "ImageRights", "InMemoryActionLedger", "InMemoryCaseRepository", "InMemoryLetterStore", "Letter",
    "LetterContext", "LetterDispatcher", "LetterKind", "LetterStore", "LetterTransport", "LicenceCheck",
    "ManualClock", "Medium", "OnChainLicence", "PageLicenceData", "Prominence", "Role", "Split", "SplitPolicy",
    "Standing", "SystemClock", "TransitionError", "Usage", "UseDescription", "UseFacts", "check_licence",
    "choose_language", "compute_compensation", "due_transitions", "holder_history", "image_rights", "load_matrix",
    "open_case", "recipient_history", "record_answer", "record_licence_check", "render_letter", "resume", "split",
    "submit_claim", "transition",
]
