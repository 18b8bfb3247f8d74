"""What a column's *name* says about it: the one set of naming rules shared by the synthesizer and the auditors.

Schema inference (:mod:`ehrsynth.inference`), DP schema discovery (:mod:`ehrsynth.dp.discovery`), the privacy
audit (:mod:`ehrsynth.privacy.columns`) and the evaluation (:mod:`ehrsynth.evaluation.columns`) all read these
rules, so a column the synthesizer treats as an identifier is one the auditor drops too. Names are matched
case-insensitively, with ``_``, a space, a dash or nothing between words (``patient_name``, ``PatientName``,
``patient-name`` are the same name). The compiled patterns are public and give the same answers as the
functions (``IDENTIFIER_NAMES.match``, the others ``.search``).

- **direct identifier** (:func:`is_identifier_name`): the name alone says the column identifies a person —
  ``mrn``, ``ssn``, ``ssn_number``, ``social_security_number``, ``email``, ``phone``, ``fax``, ``name``,
  ``first_name``, ``patient_name``, ``address``, ``street``, ``zip``/``postcode``, ``passport_number``,
  ``driver_license``/``licence_no``, ``uuid``, ``url``, ``account_number``, ``medicaid_number``… optionally prefixed by ``patient_``,
  ``home_``, ``work_``… and suffixed by ``_number``/``_no``/``_num``/``_id``. Never modelled, never audited.
- **key** (:func:`is_key_name`): a record key by name (``id``, ``*_id``, ``*_nbr``, ``*_num``, ``*_no``,
  ``*_key``, ``*_uuid``, ``pid*``, ``*idnum``, ``patientid``/``PatientId``). A key is an identifier only when
  most of its values are distinct (the callers check the values), or under DP where values cannot be looked at.
- **category** (:func:`is_category_name`): integers named like codes or groups (``*_id``, ``*type*``,
  ``*code*``, ``arm(s)``, ``strat*``, ``class``, ``stage``, ``grade``, ``group``, ``race``, ``gender``, ``sex``,
  ``status``) are categorical when they take few values.
- **code** (:func:`is_code_name`): a number whose name ends in a code word (``*code``, ``*_cd``, ``ndc``,
  ``cpt``, ``icd9``, ``hcpcs``, ``loinc``, ``snomed``, ``gsn``, ``drg``, ``atc``, optionally then ``_code``,
  ``_cd``, ``_number``…: ``cpt_cd``, ``cpt_number``, ``drg_code``, ``ndc``) holds labels, not a quantity: it is
  modelled as categories (the values it holds), never as a number between them. A 0/1 indicator of one code
  (``icd9_4019``, ``dx_250``) does not end in a code word; a count of codes (``num_codes``, ``code_count``,
  ``n_codes``) is not a code.
- **date** (:func:`is_date_name`): text named like a date (``*date*``, ``*time*``, ``dob``, ``dod``, ``*_dt``,
  ``*_at``).
- **dates in order** (:func:`is_named_date_order`): two date columns whose names differ only in a word that
  names the start and the end of one span (``intime`` → ``outtime``, ``admittime`` → ``dischtime``,
  ``edregtime`` → ``edouttime``, ``start_date`` → ``end_date`` / ``stop_date``, ``admission_date`` →
  ``discharge_date``, ``date_in`` → ``date_out``): the second is expected on or after the first. DP date order
  (:mod:`ehrsynth.dp.date_order`) then needs less evidence from the data to model it as a gap.
- **person or visit key** (:func:`is_person_key_name`): a key that names the person or the visit a row belongs
  to (``patient_nbr``, ``subject_id``, ``PatientId``, ``person_id``, ``member_id``, ``mrn``, ``pid``, ``pidnum``,
  ``encounter_id``, ``hadm_id``, ``visit_id``, ``stay_id``…). An identifier everywhere (synthesizer, DP discovery,
  audit, evaluation) even when its values repeat: they are real ids. When they repeat, rows are not patients
  and a per-row privacy guarantee does not cover a patient (:mod:`ehrsynth.dp.unit`).
- **quasi-identifier** (:func:`is_quasi_identifier_name`): demographics an attacker may know (age, sex, race,
  zip, birth date…); the privacy audit's default attribute-inference inputs.

This module imports only the standard library (the privacy audit must import without torch or pandas
overheads).
"""

from __future__ import annotations

import re

__all__ = [
    "CATEGORY_NAMES",
    "CODE_NAMES",
    "DATE_NAMES",
    "IDENTIFIER_NAMES",
    "ISO_DATE",
    "KEY_NAMES",
    "PERSON_KEY_NAMES",
    "QUASI_IDENTIFIER_NAMES",
    "US_DATE",
    "is_category_name",
    "is_code_name",
    "is_date_name",
    "is_identifier_name",
    "is_key_name",
    "is_named_date_order",
    "is_never_modelled_name",
    "is_person_key_name",
    "is_quasi_identifier_name",
    "looks_like_date",
]

_SEP = r"[_\s\-.]?"  # snake_case, spaces, dashes, or nothing (camelCase under IGNORECASE)
_PREFIX = (
    rf"(?:(?:patient|pt|person|member|subject|client|contact|primary|home|work|mobile|cell|emergency){_SEP})*"
)
_SUFFIX = rf"(?:{_SEP}(?:number|no|num|nr|nbr|id))?"
_CORE = "|".join(
    (
        r"mrn",
        rf"medical{_SEP}record(?:{_SEP}number)?",
        r"ssn",
        rf"social{_SEP}security(?:{_SEP}number)?",
        rf"e{_SEP}mail(?:{_SEP}address)?",
        r"(?:tele)?phone",
        r"fax",
        rf"(?:first|last|given|family|full|middle|maiden|sur|fore){_SEP}name",
        r"name",
        rf"address(?:{_SEP}line{_SEP}\d)?",
        rf"street(?:{_SEP}address)?",
        rf"zip(?:{_SEP}code)?",
        rf"post(?:al)?{_SEP}code",
        rf"(?:drivers?{_SEP})?licen[cs]e",
        r"passport",
        r"uuid",
        r"guid",
        r"url",
    )
)
# identifiers only with a number suffix ("medicaid" alone is an insurance flag, "medicaid_number" is not)
_NUMBERED = rf"(?:account|health{_SEP}plan(?:{_SEP}beneficiary)?|nhs|medicare|medicaid|policy){_SEP}(?:number|no|num|nr|nbr)"
# a prefix or suffix alone never makes an identifier ("number", "id" are keys, not names)
IDENTIFIER_NAMES = re.compile(rf"^{_PREFIX}(?:(?:{_CORE}){_SUFFIX}|{_NUMBERED})$", re.IGNORECASE)
KEY_NAMES = re.compile(
    r"(^(?:id|key|uuid|guid)$|[_\s\-](?:id|nbr|num|no|key|uuid|guid)$|^pid|idnum$|(?-i:[a-z0-9]Id$)|"
    r"(?:patient|subject|person|member|encounter|visit|admission|record|case|hadm|stay|episode|pat|study)id$)",
    re.IGNORECASE,
)
#: a count of codes or groups (``num_codes``, ``code_count``, ``n_groups``) is neither a code nor a category
_NOT_A_COUNT = r"^(?!(?:n_|num|number|total))(?!.*(?:count|codes|_per_))"
CATEGORY_NAMES = re.compile(
    _NOT_A_COUNT + r".*?(_id$|type|code|^arms?$|^strat|class|stage|grade|group|race|gender|^sex$|status)",
    re.IGNORECASE,
)
_PERSON_SUFFIX = rf"{_SEP}(?:id|nbr|num|no|nr|number|key|idnum)"
PERSON_KEY_NAMES = re.compile(
    rf"^(?:(?:patient|subject|participant)(?:{_PERSON_SUFFIX})?|"
    rf"(?:pt|person|member|client|beneficiary|enrollee|individual|resident|pat){_PERSON_SUFFIX}|"
    # a visit's *number* is often its order (visit_num 1, 2, 3: a feature); only its id or key is a key
    rf"(?:encounter|visit|admission|hadm|stay|icustay|episode){_SEP}(?:id|key)|"
    rf"(?:mrn|medical{_SEP}record(?:{_SEP}(?:number|no|num|nr|nbr))?|pid(?:{_SEP}num)?|ssn)(?:{_SEP}id)?)$",
    re.IGNORECASE,
)
CODE_NAMES = re.compile(
    _NOT_A_COUNT
    + r".*?(code|(^|_)(cd|ndc|cpt|icd\d*|hcpcs|loinc|snomed|gsn|drg|atc))(_(cd|code|number|num|no|nr|nbr))?$",
    re.IGNORECASE,
)
DATE_NAMES = re.compile(r"(date|time|dob|(^|_)dod(_|$)|_dt$|_at$)", re.IGNORECASE)
QUASI_IDENTIFIER_NAMES = re.compile(
    r"(^age|_age$|age_group|^sex$|gender|race|ethnic|marital|religion|language|insurance|zip|postcode|"
    r"birth|dob|^state$|country|region)",
    re.IGNORECASE,
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
US_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2}(:\d{2})?)?$")


def is_identifier_name(name: str) -> bool:
    """The name alone marks a direct identifier (see the module docstring)."""
    return bool(IDENTIFIER_NAMES.match(name))


def is_key_name(name: str) -> bool:
    """The name looks like a record key; an identifier when most values are distinct (callers check)."""
    return bool(KEY_NAMES.search(name))


def is_person_key_name(name: str) -> bool:
    """The name is a key of the person or visit a row belongs to (see the module docstring)."""
    return bool(PERSON_KEY_NAMES.match(name))


def is_never_modelled_name(name: str) -> bool:
    """A direct identifier or a patient/visit key: an identifier whatever its values (synthesizer and DP
    discovery)."""
    return is_identifier_name(name) or is_person_key_name(name)


def is_category_name(name: str) -> bool:
    """Integers with this name are codes or groups (categorical when they take few values); a count of them
    (``num_codes``, ``group_count``) is not."""
    return bool(CATEGORY_NAMES.search(name))


def is_code_name(name: str) -> bool:
    """Numbers with this name are labels (procedure, drug, diagnosis codes): modelled as categories."""
    return bool(CODE_NAMES.search(name))


def is_date_name(name: str) -> bool:
    """Text with this name is read as dates."""
    return bool(DATE_NAMES.search(name))


#: (start word, end word) of one span, for :func:`is_named_date_order`
SPAN_WORDS: tuple[tuple[str, str], ...] = (
    ("in", "out"),
    ("reg", "out"),
    ("admit", "disch"),
    ("admission", "discharge"),
    ("adm", "dis"),
    ("start", "end"),
    ("start", "stop"),
    ("begin", "end"),
    ("from", "to"),
    ("first", "last"),
)


def is_named_date_order(earlier: str, later: str) -> bool:
    """Whether the names say ``later`` ends the span ``earlier`` starts: they are equal once one start word of
    :data:`SPAN_WORDS` in ``earlier`` is replaced by its end word (case-insensitive; ``intime`` →
    ``outtime``, ``Admission_Date`` → ``Discharge_Date``)."""
    a, b = earlier.lower(), later.lower()
    for start, end in SPAN_WORDS:
        i = a.find(start)
        while i >= 0:
            if a[:i] + end + a[i + len(start) :] == b:
                return True
            i = a.find(start, i + 1)
    return False


def is_quasi_identifier_name(name: str) -> bool:
    """A demographic an attacker may know (the privacy audit's default quasi-identifiers)."""
    return bool(QUASI_IDENTIFIER_NAMES.search(name))


def looks_like_date(text: str) -> bool:
    """An ISO (``2196-04-09``, optionally with a time) or ``m/d/Y`` date string."""
    return bool(ISO_DATE.match(text) or US_DATE.match(text))
