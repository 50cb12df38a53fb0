//! The clinical content of generated documents, independent of the hand-off format: lab requests
//! with their results, letters from specialists, radiology reports.
//!
//! Each format module (Medidoc, HealthOne, KMEHR, PDF) writes these models in its own layout, so a
//! PDF letter and its structured twin carry the same words.

use jiff::civil::{Date, DateTime};
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::people::{Patient, Recipient, Sex, pick};
use super::senders::{Hospital, Lab, Practitioner, pick_greeting};

/// Whether a lab protocol is complete, as Medidoc (`P`, `C`, `S`, `L`) and HealthOne (`P`, `C`)
/// mark it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtocolStatus {
    Partial,
    Complete,
    Supplement,
    LastSupplement,
}

impl ProtocolStatus {
    pub fn medidoc_code(self) -> &'static str {
        match self {
            Self::Partial => "P",
            Self::Complete => "C",
            Self::Supplement => "S",
            Self::LastSupplement => "L",
        }
    }

    /// HealthOne has only partial and complete, so supplements are partial until the last one.
    pub fn healthone_code(self) -> &'static str {
        match self {
            Self::Partial | Self::Supplement => "P",
            Self::Complete | Self::LastSupplement => "C",
        }
    }
}

/// Where a result lies against the reference range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    VeryLow,
    Low,
    Normal,
    High,
    VeryHigh,
}

/// A measured value, or a result that follows in a later report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LabValue {
    /// `comparator` is `=`, `<` or `>`; `number` is written with a decimal point.
    Measured {
        comparator: char,
        number: String,
    },
    Pending,
}

/// One analysis of a lab request.
#[derive(Debug, Clone)]
pub(crate) struct LabResult {
    pub code: &'static str,
    pub name: &'static str,
    pub value: LabValue,
    pub unit: &'static str,
    /// NOTE: the 2-character Medidoc unit codes are placeholders; the Medidoc unit table was not
    /// available to check them.
    pub medidoc_unit: &'static str,
    pub range: Option<String>,
    pub flag: Flag,
    pub comment: Option<&'static str>,
}

/// A titled group of analyses (haematology, chemistry, ...).
#[derive(Debug, Clone)]
pub(crate) struct LabSection {
    pub code: &'static str,
    pub title: &'static str,
    pub results: Vec<LabResult>,
}

/// The results of one patient's lab request.
#[derive(Debug, Clone)]
pub(crate) struct LabRequest {
    pub patient: Patient,
    pub request_date: Date,
    pub reference: String,
    pub status: ProtocolStatus,
    pub sections: Vec<LabSection>,
    pub remark: Option<&'static str>,
    /// Whether the lab writes in Dutch (otherwise French).
    pub dutch: bool,
}

/// A lab report for one requesting doctor, covering one or more patients.
#[derive(Debug, Clone)]
pub(crate) struct LabReport {
    pub lab: &'static Lab,
    pub requester: Recipient,
    pub created: DateTime,
    pub requests: Vec<LabRequest>,
}

/// A letter (consultation report) from a specialist to the patient's doctor.
#[derive(Debug, Clone)]
pub(crate) struct Letter {
    pub author: Practitioner,
    pub hospital: &'static Hospital,
    pub recipient: Recipient,
    pub patient: Patient,
    pub consultation: DateTime,
    pub written: DateTime,
    pub reference: String,
    pub title: String,
    /// The body, one entry per line; empty entries are blank lines.
    pub body: Vec<String>,
    /// One sentence for summaries (the KMEHR `text` element, the message's free text).
    pub summary: String,
}

/// A radiology report.
#[derive(Debug, Clone)]
pub(crate) struct RadiologyReport {
    pub department: &'static Hospital,
    pub radiologist: Practitioner,
    pub recipient: Recipient,
    pub patient: Patient,
    pub exam_time: DateTime,
    pub reference: String,
    /// Section code as HealthOne `L5` lines carry it (`RX`, `ECHO`, `CT`, `NMR`, `MAMMO`).
    pub section: &'static str,
    pub exam: &'static str,
    pub findings: Vec<&'static str>,
    pub conclusion: &'static str,
}

struct Analyte {
    code: &'static str,
    dutch: &'static str,
    french: &'static str,
    unit: &'static str,
    medidoc_unit: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
}

struct SectionSpec {
    code: &'static str,
    dutch: &'static str,
    french: &'static str,
    analytes: &'static [Analyte],
}

const fn analyte(
    code: &'static str,
    dutch: &'static str,
    french: &'static str,
    unit: &'static str,
    medidoc_unit: &'static str,
    range: (f64, f64),
    decimals: usize,
) -> Analyte {
    Analyte {
        code,
        dutch,
        french,
        unit,
        medidoc_unit,
        low: range.0,
        high: range.1,
        decimals,
    }
}

const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        code: "HEMA",
        dutch: "HEMATOLOGIE",
        french: "HÉMATOLOGIE",
        analytes: &[
            analyte(
                "HB",
                "Hemoglobine",
                "Hémoglobine",
                "g/dL",
                "01",
                (12.0, 16.0),
                1,
            ),
            analyte(
                "WBC",
                "Leukocyten",
                "Leucocytes",
                "10³/µL",
                "02",
                (4.0, 10.0),
                1,
            ),
            analyte(
                "PLT",
                "Trombocyten",
                "Plaquettes",
                "10³/µL",
                "02",
                (150.0, 400.0),
                0,
            ),
            analyte("MCV", "MCV", "VGM", "fL", "03", (80.0, 100.0), 0),
        ],
    },
    SectionSpec {
        code: "CHEM",
        dutch: "KLINISCHE CHEMIE",
        french: "BIOCHIMIE",
        analytes: &[
            analyte(
                "GLU",
                "Glucose nuchter",
                "Glucose à jeun",
                "mg/dL",
                "04",
                (70.0, 99.0),
                0,
            ),
            analyte(
                "CREA",
                "Creatinine",
                "Créatinine",
                "mg/dL",
                "04",
                (0.6, 1.2),
                2,
            ),
            analyte("K", "Kalium", "Potassium", "mmol/L", "05", (3.5, 5.1), 1),
            analyte("NA", "Natrium", "Sodium", "mmol/L", "05", (136.0, 145.0), 0),
            analyte("CRP", "CRP", "CRP", "mg/L", "06", (0.0, 5.0), 1),
            analyte(
                "ALT",
                "ALT (GPT)",
                "ALAT (GPT)",
                "U/L",
                "07",
                (0.0, 41.0),
                0,
            ),
            analyte(
                "CHOL",
                "Totale cholesterol",
                "Cholestérol total",
                "mg/dL",
                "04",
                (0.0, 190.0),
                0,
            ),
        ],
    },
    SectionSpec {
        code: "ENDO",
        dutch: "ENDOCRINOLOGIE",
        french: "ENDOCRINOLOGIE",
        analytes: &[
            analyte("TSH", "TSH", "TSH", "mU/L", "08", (0.27, 4.2), 2),
            analyte("FT4", "Vrij T4", "T4 libre", "ng/dL", "09", (0.9, 1.7), 2),
            analyte("HBA1C", "HbA1c", "HbA1c", "%", "10", (4.0, 6.0), 1),
            analyte(
                "FERR",
                "Ferritine",
                "Ferritine",
                "µg/L",
                "11",
                (30.0, 400.0),
                0,
            ),
            analyte(
                "VITD",
                "25-OH vitamine D",
                "25-OH vitamine D",
                "µg/L",
                "11",
                (30.0, 100.0),
                0,
            ),
        ],
    },
];

const RESULT_COMMENTS_DUTCH: &[&str] = &[
    "Afname 10:20; nuchter volgens patiënt.",
    "Controle aangeraden binnen 3 maanden.",
    "Waarde bevestigd door herhaling.",
];

const RESULT_COMMENTS_FRENCH: &[&str] = &[
    "Prélèvement à 10h20 ; à jeun selon le patient.",
    "Contrôle conseillé dans 3 mois.",
    "Valeur confirmée par une deuxième mesure.",
];

const LAB_REMARKS_DUTCH: &[&str] = &[
    "Staal licht gehemolyseerd; kalium onder voorbehoud (hémolyse légère).",
    "Resultaten vergeleken met vorige afname: geen significante wijziging.",
];

const LAB_REMARKS_FRENCH: &[&str] = &[
    "Échantillon légèrement hémolysé ; potassium sous réserve.",
    "Résultats comparés au prélèvement précédent : pas de différence significative.",
];

/// Invents the results of one lab request.
pub(crate) fn invent_lab_request(
    rng: &mut ChaCha8Rng,
    lab: &Lab,
    patient: Patient,
    request_date: Date,
    sequence: u32,
) -> LabRequest {
    let status = *[
        ProtocolStatus::Complete,
        ProtocolStatus::Complete,
        ProtocolStatus::Complete,
        ProtocolStatus::Partial,
        ProtocolStatus::Supplement,
        ProtocolStatus::LastSupplement,
    ]
    .choose(rng)
    .unwrap_or(&ProtocolStatus::Complete);
    let pending_allowed = matches!(status, ProtocolStatus::Partial | ProtocolStatus::Supplement);

    let section_count = rng.random_range(1..=SECTIONS.len());
    let specs: Vec<&'static SectionSpec> = SECTIONS.sample(rng, section_count).collect();
    let sections = specs
        .into_iter()
        .map(|spec| invent_section(rng, spec, lab.dutch, pending_allowed))
        .collect();

    let remarks = if lab.dutch {
        LAB_REMARKS_DUTCH
    } else {
        LAB_REMARKS_FRENCH
    };
    LabRequest {
        patient,
        request_date,
        reference: format!(
            "L{:02}-{:05}",
            request_date.year() % 100,
            sequence % 100_000
        ),
        status,
        sections,
        remark: rng.random_bool(0.3).then(|| pick(rng, remarks)),
        dutch: lab.dutch,
    }
}

fn invent_section(
    rng: &mut ChaCha8Rng,
    spec: &'static SectionSpec,
    dutch: bool,
    pending_allowed: bool,
) -> LabSection {
    let count = rng.random_range(2..=spec.analytes.len().min(4));
    let analytes: Vec<&'static Analyte> = spec.analytes.sample(rng, count).collect();
    let results = analytes
        .into_iter()
        .map(|analyte| invent_result(rng, analyte, dutch, pending_allowed))
        .collect();
    LabSection {
        code: spec.code,
        title: if dutch { spec.dutch } else { spec.french },
        results,
    }
}

fn invent_result(
    rng: &mut ChaCha8Rng,
    analyte: &'static Analyte,
    dutch: bool,
    pending_allowed: bool,
) -> LabResult {
    let name = if dutch { analyte.dutch } else { analyte.french };
    let range = if analyte.low == 0.0 {
        format!("< {}", format_number(analyte.high, analyte.decimals))
    } else {
        format!(
            "{}-{}",
            format_number(analyte.low, analyte.decimals),
            format_number(analyte.high, analyte.decimals)
        )
    };

    let (value, flag) = if pending_allowed && rng.random_bool(0.25) {
        (LabValue::Pending, Flag::Normal)
    } else {
        invent_value(rng, analyte)
    };

    let comments = if dutch {
        RESULT_COMMENTS_DUTCH
    } else {
        RESULT_COMMENTS_FRENCH
    };
    LabResult {
        code: analyte.code,
        name,
        value,
        unit: analyte.unit,
        medidoc_unit: analyte.medidoc_unit,
        range: Some(range),
        flag,
        comment: rng.random_bool(0.1).then(|| pick(rng, comments)),
    }
}

fn invent_value(rng: &mut ChaCha8Rng, analyte: &Analyte) -> (LabValue, Flag) {
    let span = analyte.high - analyte.low;
    let roll: f64 = rng.random();
    // Analytes with only an upper limit (low = 0) still have typical values well above zero.
    let normal_low = if analyte.low > 0.0 {
        analyte.low
    } else {
        analyte.high * 0.4
    };
    let (number, flag) = if roll < 0.72 {
        (
            normal_low + (analyte.high - normal_low) * rng.random_range(0.05..0.95),
            Flag::Normal,
        )
    } else if roll < 0.84 {
        (
            analyte.high + span * rng.random_range(0.02..0.4),
            Flag::High,
        )
    } else if roll < 0.88 {
        (
            analyte.high + span * rng.random_range(0.6..1.5),
            Flag::VeryHigh,
        )
    } else if analyte.low > 0.0 && roll < 0.97 {
        (
            analyte.low - analyte.low * rng.random_range(0.02..0.2),
            Flag::Low,
        )
    } else if analyte.low > 0.0 {
        (analyte.low * rng.random_range(0.3..0.6), Flag::VeryLow)
    } else {
        // Analytes with only an upper limit: a value below the detection limit.
        let limit = format_number(span / 10.0, analyte.decimals.max(1));
        return (
            LabValue::Measured {
                comparator: '<',
                number: limit,
            },
            Flag::Normal,
        );
    };
    let value = LabValue::Measured {
        comparator: '=',
        number: format_number(number, analyte.decimals),
    };
    (value, flag)
}

fn format_number(number: f64, decimals: usize) -> String {
    format!("{number:.decimals$}")
}

struct Case {
    dutch: [&'static str; 4],
    french: [&'static str; 4],
}

/// Reason, examination, conclusion and plan, per specialty, in the order of `SPECIALTIES` (whose
/// last entry, radiology, writes reports instead of letters).
const CASES: &[&[Case]] = &[
    &[Case {
        dutch: [
            "hartkloppingen",
            "ECG: sinusritme, geen geleidingsstoornissen. Holter 24 u: geïsoleerde ventriculaire extrasystolen",
            "benigne extrasystolie",
            "geen verdere opvolging nodig; minder cafeïne",
        ],
        french: [
            "palpitations",
            "ECG : rythme sinusal, pas de trouble de conduction. Holter 24 h : extrasystoles ventriculaires isolées",
            "extrasystolie bénigne",
            "pas de suivi nécessaire ; réduire la caféine",
        ],
    }],
    &[Case {
        dutch: [
            "epigastrische pijn",
            "gastroscopie: lichte antrumgastritis, biopsieën genomen (Helicobacter)",
            "gastritis, Helicobacter in afwachting",
            "PPI gedurende 4 weken; resultaat biopsie volgt",
        ],
        french: [
            "douleurs épigastriques",
            "gastroscopie : gastrite antrale légère, biopsies prélevées (Helicobacter)",
            "gastrite, Helicobacter en attente",
            "IPP pendant 4 semaines ; résultat des biopsies à suivre",
        ],
    }],
    &[Case {
        dutch: [
            "een veranderende moedervlek",
            "dermatoscopie: regelmatig pigmentnetwerk, geen atypie",
            "benigne naevus",
            "controle over 1 jaar",
        ],
        french: [
            "un grain de beauté qui change",
            "dermatoscopie : réseau pigmentaire régulier, pas d'atypie",
            "naevus bénin",
            "contrôle dans 1 an",
        ],
    }],
    &[Case {
        dutch: [
            "hoofdpijn sinds 3 maanden",
            "neurologisch onderzoek normaal, geen focale uitval",
            "spanningshoofdpijn",
            "ontspanningsoefeningen; geen beeldvorming nodig",
        ],
        french: [
            "céphalées depuis 3 mois",
            "examen neurologique normal, pas de déficit focal",
            "céphalées de tension",
            "relaxation ; pas d'imagerie nécessaire",
        ],
    }],
    &[Case {
        dutch: [
            "pijn in de rechterknie",
            "lichte effusie, meniscustesten positief mediaal",
            "vermoedelijke mediale meniscusletsel",
            "NMR aangevraagd; kinesitherapie 9 beurten",
        ],
        french: [
            "douleur du genou droit",
            "léger épanchement, tests méniscaux positifs en interne",
            "lésion probable du ménisque interne",
            "IRM demandée ; kinésithérapie 9 séances",
        ],
    }],
    &[Case {
        dutch: [
            "aanhoudende hoest",
            "spirometrie: FEV1 82 % voorspeld, reversibiliteit na salbutamol",
            "astma, licht persisterend",
            "inhalatiecorticoïd; controle na 6 weken",
        ],
        french: [
            "toux persistante",
            "spirométrie : VEMS 82 % de la valeur prédite, réversible après salbutamol",
            "asthme léger persistant",
            "corticoïde inhalé ; contrôle dans 6 semaines",
        ],
    }],
];

/// Invents a consultation letter by `author` about `patient`.
pub(crate) fn invent_letter(
    rng: &mut ChaCha8Rng,
    author: Practitioner,
    hospital: &'static Hospital,
    recipient: Recipient,
    patient: Patient,
    written: DateTime,
) -> Letter {
    let cases = CASES
        .get(specialty_index(&author))
        .copied()
        .unwrap_or(CASES[0]);
    let case = cases.choose(rng).unwrap_or(&cases[0]);
    let [reason, examination, conclusion, plan] = if author.dutch {
        case.dutch
    } else {
        case.french
    };
    let consultation = written.saturating_sub(jiff::Span::new().days(rng.random_range(0..6i64)));
    let systolic = rng.random_range(110..165u16);
    let diastolic = rng.random_range(65..95u16);
    let pulse = rng.random_range(55..95u16);
    let when = consultation.date().strftime("%d/%m/%Y").to_string();
    let born = patient.birth_date.strftime("%d/%m/%Y").to_string();
    let specialty = author.specialty_name();
    let name = format!("{} {}", patient.first_name, patient.last_name);

    let (title, body, summary) = if author.dutch {
        let patient_word = if patient.sex == Sex::Female {
            "uw patiënte"
        } else {
            "uw patiënt"
        };
        let body = vec![
            pick_greeting(rng, true).to_owned(),
            String::new(),
            format!(
                "Ik zag {patient_word} {name}, geboren op {born}, op {when} op de raadpleging {specialty} wegens {reason}."
            ),
            format!("Klinisch onderzoek: bloeddruk {systolic}/{diastolic} mmHg, pols {pulse}/min."),
            format!("Onderzoek: {examination}."),
            String::new(),
            format!("Besluit: {conclusion}."),
            format!("Beleid: {plan}."),
            String::new(),
            "Met collegiale groeten,".to_owned(),
            format!("Dr. {} {}", author.first_name, author.last_name),
        ];
        (
            format!("Consultatieverslag {specialty}"),
            body,
            format!("Consultatie {specialty}: {conclusion}; {plan}."),
        )
    } else {
        let patient_word = if patient.sex == Sex::Female {
            "votre patiente"
        } else {
            "votre patient"
        };
        let born_word = if patient.sex == Sex::Female {
            "née"
        } else {
            "né"
        };
        let body = vec![
            pick_greeting(rng, false).to_owned(),
            String::new(),
            format!(
                "J'ai vu {patient_word} {name}, {born_word} le {born}, le {when} en consultation de {specialty} pour {reason}."
            ),
            format!(
                "Examen clinique : tension artérielle {systolic}/{diastolic} mmHg, pouls {pulse}/min."
            ),
            format!("Examens : {examination}."),
            String::new(),
            format!("Conclusion : {conclusion}."),
            format!("Attitude : {plan}."),
            String::new(),
            "Bien confraternellement,".to_owned(),
            format!("Dr {} {}", author.first_name, author.last_name),
        ];
        (
            format!("Rapport de consultation de {specialty}"),
            body,
            format!("Consultation de {specialty} : {conclusion} ; {plan}."),
        )
    };

    Letter {
        reference: format!(
            "CONS-{:02}-{:03}",
            written.year() % 100,
            rng.random_range(1..1000u16)
        ),
        author,
        hospital,
        recipient,
        patient,
        consultation,
        written,
        title,
        body,
        summary,
    }
}

fn specialty_index(author: &Practitioner) -> usize {
    super::senders::SPECIALTIES
        .iter()
        .position(|specialty| specialty.qualification == author.specialty.qualification)
        .unwrap_or(0)
}

struct Exam {
    section: &'static str,
    dutch: (&'static str, &'static [&'static str], &'static str),
    french: (&'static str, &'static [&'static str], &'static str),
}

const EXAMS: &[Exam] = &[
    Exam {
        section: "RX",
        dutch: (
            "RX THORAX PA EN PROFIEL",
            &[
                "Geen infiltraten. Normale hartschaduw.",
                "Vrije sinussen, geen pleuravocht.",
            ],
            "Besluit: geen afwijkingen; vergeleken met opname van 02/2023.",
        ),
        french: (
            "RX THORAX FACE ET PROFIL",
            &[
                "Pas d'infiltrat. Silhouette cardiaque normale.",
                "Culs-de-sac libres, pas d'épanchement pleural.",
            ],
            "Conclusion : examen normal ; comparé au cliché de 02/2023.",
        ),
    },
    Exam {
        section: "ECHO",
        dutch: (
            "ECHOGRAFIE ABDOMEN",
            &[
                "Lever van normale grootte met homogene echostructuur.",
                "Galblaas zonder stenen. Nieren normaal, geen hydronefrose.",
            ],
            "Besluit: normale echografie van het abdomen.",
        ),
        french: (
            "ÉCHOGRAPHIE ABDOMINALE",
            &[
                "Foie de taille normale, échostructure homogène.",
                "Vésicule alithiasique. Reins normaux, pas d'hydronéphrose.",
            ],
            "Conclusion : échographie abdominale normale.",
        ),
    },
    Exam {
        section: "CT",
        dutch: (
            "CT LUMBALE WERVELZUIL",
            &[
                "Discopathie L4-L5 met discrete posterieure protrusie.",
                "Geen compressie van de zenuwwortels. Facetartrose L5-S1.",
            ],
            "Besluit: degeneratieve discopathie L4-L5 zonder radiculaire compressie.",
        ),
        french: (
            "CT DE LA COLONNE LOMBAIRE",
            &[
                "Discopathie L4-L5 avec discrète protrusion postérieure.",
                "Pas de compression radiculaire. Arthrose articulaire postérieure L5-S1.",
            ],
            "Conclusion : discopathie dégénérative L4-L5 sans conflit radiculaire.",
        ),
    },
    Exam {
        section: "NMR",
        dutch: (
            "NMR RECHTERKNIE",
            &[
                "Horizontale scheur in de achterhoorn van de mediale meniscus.",
                "Kruisbanden intact. Beperkt gewrichtsvocht.",
            ],
            "Besluit: scheur mediale meniscus, achterhoorn.",
        ),
        french: (
            "IRM DU GENOU DROIT",
            &[
                "Déchirure horizontale de la corne postérieure du ménisque interne.",
                "Ligaments croisés intacts. Épanchement articulaire modéré.",
            ],
            "Conclusion : déchirure du ménisque interne, corne postérieure.",
        ),
    },
    Exam {
        section: "MAMMO",
        dutch: (
            "MAMMOGRAFIE EN ECHOGRAFIE BEIDE BORSTEN",
            &[
                "Klierweefsel type B. Geen verdachte massa's of microcalcificaties.",
                "Echografie: enkele eenvoudige cysten links.",
            ],
            "Besluit: BI-RADS 2, goedaardige bevindingen.",
        ),
        french: (
            "MAMMOGRAPHIE ET ÉCHOGRAPHIE BILATÉRALES",
            &[
                "Densité mammaire de type B. Pas de masse suspecte ni de microcalcifications.",
                "Échographie : quelques kystes simples à gauche.",
            ],
            "Conclusion : BI-RADS 2, aspect bénin.",
        ),
    },
];

/// Invents a radiology report by `radiologist` of `department`.
pub(crate) fn invent_radiology_report(
    rng: &mut ChaCha8Rng,
    department: &'static Hospital,
    radiologist: Practitioner,
    recipient: Recipient,
    patient: Patient,
    exam_time: DateTime,
) -> RadiologyReport {
    let exam = EXAMS.choose(rng).unwrap_or(&EXAMS[0]);
    let (title, findings, conclusion) = if department.dutch {
        exam.dutch
    } else {
        exam.french
    };
    RadiologyReport {
        department,
        radiologist,
        recipient,
        patient,
        reference: format!(
            "R{:02}-{:04}",
            exam_time.year() % 100,
            rng.random_range(1..10_000u16)
        ),
        exam_time,
        section: exam.section,
        exam: title,
        findings: findings.to_vec(),
        conclusion,
    }
}

/// Returns the lines of a radiology report as a letter body (for PDF renderings).
pub(crate) fn radiology_lines(report: &RadiologyReport) -> Vec<String> {
    let mut lines = vec![report.exam.to_owned(), String::new()];
    lines.extend(report.findings.iter().map(|line| (*line).to_owned()));
    lines.push(String::new());
    lines.push(report.conclusion.to_owned());
    lines.push(String::new());
    lines.push(format!(
        "Dr. {} {}",
        report.radiologist.first_name, report.radiologist.last_name
    ));
    lines
}

/// Returns the lines of a letter as printed on the hospital's letterhead (for PDF renderings).
pub(crate) fn letter_print_lines(letter: &Letter) -> Vec<String> {
    let hospital = letter.hospital;
    let author = &letter.author;
    let patient = &letter.patient;
    let recipient = &letter.recipient;
    let born = patient.birth_date.strftime("%d/%m/%Y");
    let date = letter.written.strftime("%d/%m/%Y");
    let (service, to, about, place) = if author.dutch {
        ("Dienst", "Aan", "Betreft", "op")
    } else {
        ("Service de", "À", "Concerne", "le")
    };
    let mut lines = vec![
        hospital.name.to_owned(),
        hospital.street.to_owned(),
        format!("{} {}", hospital.postcode, hospital.town),
        format!(
            "{service} {} - Dr. {} {}",
            author.specialty_name(),
            author.first_name,
            author.last_name
        ),
        String::new(),
        format!("{to}: Dr. {} {}", recipient.first_name, recipient.last_name),
        format!(
            "{about}: {} {} (°{born}, INSZ {})",
            patient.first_name, patient.last_name, patient.insz
        ),
        format!("{}, {place} {date}", hospital.town),
        format!("Ref.: {}", letter.reference),
        String::new(),
    ];
    lines.extend(letter.body.iter().cloned());
    lines
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::mail::senders::{HOSPITALS, SPECIALTIES, invent_practitioner};

    #[test]
    fn letter_case_matches_specialty() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let today = jiff::civil::date(2024, 3, 15);
        let recipient = Recipient {
            ssin: "79040213735".to_owned(),
            nihii11: "12345678004".to_owned(),
            first_name: "Pieter".to_owned(),
            last_name: "Janssens".to_owned(),
        };
        for (index, specialty) in SPECIALTIES
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_radiology)
        {
            let author = invent_practitioner(&mut rng, specialty);
            let patient = crate::mail::people::invent_patient(&mut rng, today);
            let letter = invent_letter(
                &mut rng,
                author,
                &HOSPITALS[0],
                recipient.clone(),
                patient,
                today.at(9, 0, 0, 0),
            );
            let conclusion = if letter.author.dutch {
                CASES[index][0].dutch[2]
            } else {
                CASES[index][0].french[2]
            };
            assert!(
                letter.summary.contains(conclusion),
                "{}: {}",
                specialty.dutch,
                letter.summary
            );
        }
    }

    #[test]
    fn upper_limit_analytes_stay_plausible() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let cholesterol = &SECTIONS[1].analytes[6];
        for _ in 0..200 {
            if let (
                LabValue::Measured {
                    comparator: '=',
                    number,
                },
                Flag::Normal,
            ) = invent_value(&mut rng, cholesterol)
            {
                let value: f64 = number.parse().unwrap();
                assert!((76.0..=190.0).contains(&value), "{value}");
            }
        }
    }
}
