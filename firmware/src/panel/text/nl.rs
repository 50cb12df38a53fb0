//! Dutch texts (Belgian usage: INSZ, RIZIV, eID).

use super::Text;

/// Returns the Dutch template of `key`.
pub(super) fn text(key: Text) -> &'static str {
    match key {
        Text::StatusOff => "Nog geen arts",
        Text::StatusAllFetched => "Alles opgehaald",
        Text::StatusFetching => "Aan het ophalen",
        Text::StatusHeld => "Tegengehouden",
        Text::StatusEndsSoon => "Loopt bijna af",
        Text::StatusPending => "Ophalen wacht",
        Text::StatusProblem => "Ophaalprobleem",
        Text::StatusEhealthReachable => "eHealth bereikbaar",
        Text::StatusEhealthUnknown => "eHealth nog onbekend",
        Text::StatusEhealthUnreachable => "eHealth onbereikbaar sinds {time}",
        Text::StatusNoPrincipal => "Druk op OK en stel in het menu de hoofdarts in.",
        Text::ProblemWordUnreachable => "netwerk",
        Text::ProblemWordAuthentication => "aanmelden",
        Text::ProblemWordDoctorAction => "nakijken",
        Text::ProblemWordPlatform => "platform",
        Text::ProblemWordShare => "opslag",
        Text::ProblemWordClock => "klok",
        Text::ProblemWordInternal => "boxfout",
        Text::DetailNewToday => "Nieuw vandaag: {count}",
        Text::DetailLastFetch => "Laatst: {time}",
        Text::DetailNotFetched => "Nog niet opgehaald",
        Text::DetailFetching => "Nu aan het ophalen",
        Text::DetailHeld => "Tegengehouden: {count}",
        Text::DetailMandateEnds => "Mandaat eindigt {date}",
        Text::DetailCertificateEnds => "Cert. eindigt {date}",
        Text::DetailAllFine => "Alles in orde",
        Text::ProblemUnreachable => {
            "Het eHealth-platform is niet bereikbaar. Kijk de netwerkkabel en het internet \
             van de praktijk na; de box probeert zelf opnieuw."
        }
        Text::ProblemAuthentication => {
            "eHealth weigerde de aanmelding. De box probeert opnieuw; blijft het zo, kijk \
             dan het eHealth-certificaat van de arts na."
        }
        Text::ProblemDoctorAction => {
            "De arts moet iets doen: het eHealth-certificaat, het wachtwoord of de \
             toegangsrechten. Breng een vernieuwd certificaat en geef het mandaat opnieuw."
        }
        Text::ProblemPlatform => {
            "Het eHealth-platform weigerde een vraag of stuurde een antwoord dat de box niet \
             kan lezen. De box probeert opnieuw; blijft het zo, bel de installateur."
        }
        Text::ProblemShare => {
            "De box kan niet schrijven in de netwerkmap. Bel de installateur: de opslag is \
             misschien vol."
        }
        Text::ProblemClock => {
            "De klok van de box staat niet juist. Kijk het netwerk na: de box zet zijn klok \
             gelijk via het internet."
        }
        Text::ProblemInternal => {
            "De box faalde. Start hem opnieuw op; blijft het zo, bel de installateur."
        }
        Text::MenuTitle => "Menu",
        Text::MenuGrantMandate => "Mandaat geven",
        Text::MenuSetUpMain => "Hoofdarts instellen",
        Text::MenuListMandates => "Mandaten bekijken",
        Text::MenuRemoveMandate => "Mandaat intrekken",
        Text::MenuNetwork => "Netwerk",
        Text::MenuLeds => "Betekenis lampjes",
        Text::MenuLanguage => "Taal",
        Text::MenuAbout => "Over deze box",
        Text::MandatesNone => "Geen mandaten op deze box.",
        Text::MandateActive => "tot {date}",
        Text::MandateEndsSoon => "eindigt {date}!",
        Text::MandateNotStarted => "start {date}",
        Text::MandateEnded => "verlopen {date}",
        Text::MandateRevoked => "herroepen {date}",
        Text::RemoveNone => "Geen geldig mandaat om in te trekken.",
        Text::RemoveConfirm => {
            "Het mandaat van {name} intrekken? De box stopt met ophalen en wist de kopie van \
             het certificaat."
        }
        Text::RemoveDone => "Mandaat van {name} ingetrokken.",
        Text::NetworkHost => "Naam: {host}",
        Text::NetworkNoAddress => "Geen netwerkadres",
        Text::NetworkShares => "Netwerkmappen:",
        Text::NetworkNoShare => "Nog geen netwerkmap",
        Text::LegendGreen => "Groen: elke box werd op tijd opgehaald.",
        Text::LegendAmber => {
            "Oranje knippert: aan het ophalen, nog niet opgehaald, of een mandaat of \
             certificaat loopt af binnen 30 dagen."
        }
        Text::LegendRed => "Rood: een box kan niet worden opgehaald.",
        Text::AboutVersion => "Versie {version}",
        Text::AboutBox => "Box-identiteit:",
        Text::AboutDoctors => "Artsen: {count}",
        Text::WizardMandateTitle => "Mandaat geven",
        Text::WizardSetupTitle => "Hoofdarts",
        Text::WizardInsertStick => {
            "Steek de USB-stick met het eHealth-certificaat in en druk op OK."
        }
        Text::WizardReadingStick => "USB-stick lezen...",
        Text::WizardCertificateTitle => "Certificaat",
        Text::WizardPasswordTitle => "Wachtwoord",
        Text::WizardOpeningCertificate => "Certificaat openen...",
        Text::WizardRizivTitle => "RIZIV-nummer",
        Text::WizardRizivFor => "Typ het RIZIV-nummer van {name}.",
        Text::WizardInsertEid => "Steek de eID van de arts in de lezer en druk op OK.",
        Text::WizardReadingEid => "eID lezen...",
        Text::WizardIdentityTitle => "eID",
        Text::WizardIdentityInsz => "INSZ {insz}",
        Text::WizardEndDateTitle => "Einde mandaat",
        Text::WizardEndDateLatest => "Uiterlijk {date}",
        Text::WizardReviewTitle => "Te tekenen tekst",
        Text::WizardReviewSetup => "{name} (INSZ {insz}) instellen als hoofdarts van deze box?",
        Text::WizardPinTitle => "eID-pincode",
        Text::WizardPinTriesLeft => "Nog {tries} pogingen",
        Text::WizardPinOnReader => "Typ uw pincode op de kaartlezer en bevestig ze daar.",
        Text::WizardSigning => "Ondertekenen. Laat de eID in de lezer.",
        Text::WizardConfirming => "Pincode nakijken. Laat de eID in de lezer.",
        Text::WizardDoneTitle => "Klaar",
        Text::WizardDoneMandate => {
            "Mandaat bewaard. De box haalt de eHealthBox van {name} op tot {date}."
        }
        Text::WizardDoneSetup => "{name} is de hoofdarts van deze box. Het ophalen start nu.",
        Text::WizardCancelled => "Geannuleerd. Er werd niets bewaard.",
        Text::WizardRemoveStickAndCard => "Neem de USB-stick en de eID-kaart uit.",
        Text::ErrorTitle => "Probleem",
        Text::HintNext => "OK: verder",
        Text::HintChoose => "Op/Neer, OK: kies",
        Text::HintScroll => "Op/Neer bladeren, OK",
        Text::HintPicker => "OK=typ  lang OK=klaar",
        Text::HintDate => "Op/Neer wijzig, OK",
        Text::HintYesNo => "OK=ja  Terug=nee",
        Text::HintSign => "OK: akkoord, tekenen",
        Text::HintTryAgain => "OK: opnieuw",
        Text::HintBack => "Terug: vorige",
        Text::ErrorNoStick => {
            "Geen USB-stick gevonden. Steek de stick met het eHealth-certificaat in."
        }
        Text::ErrorNoCertificate => {
            "Geen .p12- of .acc-p12-bestand op de USB-stick. Kopieer het eHealth-certificaat \
             erop."
        }
        Text::ErrorTooManyFiles => {
            "Er staan te veel bestanden op de USB-stick om te doorzoeken. Gebruik een stick \
             met alleen het certificaat."
        }
        Text::ErrorStickUnreadable => {
            "De USB-stick is niet leesbaar. Kopieer het certificaat naar een andere stick."
        }
        Text::ErrorStickRemoved => {
            "De USB-stick werd tijdens het lezen uitgenomen. Steek hem opnieuw in."
        }
        Text::ErrorStickMountUnavailable => {
            "De box kan geen USB-sticks openen. Start hem opnieuw op; blijft het zo, bel de \
             installateur."
        }
        Text::ErrorFileTooLarge => {
            "{file} is te groot voor een eHealth-certificaat. Kies het bestand dat eHealth \
             uitreikte."
        }
        Text::ErrorNotKeystore => {
            "{file} is geen eHealth-certificaat. Kies het .p12- of .acc-p12-bestand dat \
             eHealth uitreikte."
        }
        Text::ErrorWrongPassword => {
            "Verkeerd wachtwoord. Let op hoofdletters en kleine letters en typ het opnieuw."
        }
        Text::ErrorKeystoreDamaged => {
            "Het certificaatbestand is beschadigd of onvolledig. Kopieer het opnieuw, of \
             vraag eHealth een nieuw."
        }
        Text::ErrorCertificateExpired => {
            "Het eHealth-certificaat is verlopen op {date}. Vernieuw het en breng het nieuwe \
             bestand."
        }
        Text::ErrorCertificateNotYetValid => {
            "Het eHealth-certificaat geldt pas vanaf {date}. Kijk de klok van de box na, of \
             wacht tot dan."
        }
        Text::ErrorCertificateUntrusted => {
            "Het certificaat is niet door eHealth uitgereikt, of het is beschadigd. Gebruik \
             het certificaat dat eHealth uitreikte."
        }
        Text::ErrorCertificateNotPersonal => {
            "Dit certificaat noemt geen persoon. Kies het persoonlijke eHealth-certificaat \
             van de arts."
        }
        Text::ErrorCertificateEndsNow => {
            "Het eHealth-certificaat loopt nu af; er blijft geen tijd voor een mandaat. \
             Vernieuw het eerst."
        }
        Text::ErrorInsz => "Het INSZ {value} is ongeldig. Kijk de eID en het certificaat na.",
        Text::ErrorRizivFormat => "Een RIZIV-nummer heeft 11 cijfers. Typ het opnieuw.",
        Text::ErrorRizivCheckDigits => {
            "Het RIZIV-nummer {value} heeft verkeerde controlecijfers. Typ het opnieuw."
        }
        Text::ErrorName => {
            "De naam klopt niet met de eID. Kijk na of het de eigen eID van de arts is."
        }
        Text::ErrorOtherPerson => {
            "De eID en het certificaat zijn van verschillende personen. Steek de eID in van \
             de arts van dit certificaat."
        }
        Text::ErrorMandatorIsMain => {
            "Dit is de hoofdarts van deze box, die geen mandaat nodig heeft. Een mandaat komt \
             van een collega."
        }
        Text::ErrorNoMainDoctor => {
            "Deze box heeft nog geen hoofdarts. Stel eerst de hoofdarts in (menu)."
        }
        Text::ErrorMainDoctorExists => "Deze box heeft al een hoofdarts: {name}.",
        Text::ErrorAlreadyMandator => {
            "Deze arts heeft een mandaat op deze box. Trek eerst het mandaat in."
        }
        Text::ErrorEndDatePast => {
            "De einddatum ligt in het verleden. Kies vandaag of een latere datum."
        }
        Text::ErrorEndDateAfterCertificate => {
            "De einddatum ligt na het einde van het certificaat ({date}). Kies een vroegere \
             datum."
        }
        Text::ErrorCardService => {
            "De kaartlezerdienst draait niet. Start de box opnieuw op; blijft het zo, bel de \
             installateur."
        }
        Text::ErrorNoReader => "Geen kaartlezer gevonden. Sluit de eID-lezer aan.",
        Text::ErrorNoCard => "Geen kaart in de lezer. Steek de eID in en druk op OK.",
        Text::ErrorCardRemoved => "De eID werd te vroeg uitgenomen. Steek hem opnieuw in.",
        Text::ErrorNotEid => "De kaart in de lezer is geen Belgische eID. Steek de eID in.",
        Text::ErrorCardExpired => {
            "Deze eID is verlopen op {date}. De arts heeft een nieuwe kaart nodig."
        }
        Text::ErrorCardUntrusted => {
            "De eID kan niet worden gecontroleerd: de kaart is beschadigd of niet echt. \
             Probeer een andere kaart."
        }
        Text::ErrorCardCannotSign => {
            "Deze eID heeft geen handtekeningcertificaat en kan niet tekenen."
        }
        Text::ErrorChipCheckBlocked => {
            "Deze eID blokkeerde haar chipcontrole na 5000 keer. Geef de pincode een keer in \
             op een computer met de eID-software en steek de kaart dan opnieuw in."
        }
        Text::ErrorCardFailed => {
            "De eID-lezer of de kaart faalde. Neem de kaart uit, steek ze opnieuw in en \
             probeer opnieuw."
        }
        Text::ErrorWrongPin => {
            "Verkeerde pincode. Nog {tries} pogingen voor de kaart de pincode blokkeert."
        }
        Text::ErrorPinBlocked => {
            "De pincode is geblokkeerd. De kaarthouder moet ze laten deblokkeren bij de \
             gemeente."
        }
        Text::ErrorPinFormat => "Een pincode heeft 4 tot 12 cijfers. Typ ze opnieuw.",
        Text::ErrorPinpadTimeout => {
            "De kaartlezer wachtte 30 seconden op de pincode. Druk op OK en typ ze op de lezer."
        }
        Text::ErrorPinpadCancelled => {
            "De pincode werd op de kaartlezer geannuleerd. Druk op OK om ze opnieuw te typen."
        }
        Text::ErrorSignatureRejected => {
            "De handtekening van de eID klopt niet. Er werd niets bewaard; probeer opnieuw \
             met dezelfde kaart."
        }
        Text::ErrorStorage => {
            "De box kon niet bewaren. Er werd niets bewaard; bel de installateur."
        }
        Text::ErrorBoxSetup => {
            "De box is niet volledig geïnstalleerd (vertrouwde certificaten of \
             box-identiteit). Bel de installateur."
        }
        Text::ErrorStartAgain => "Er liep iets mis in de volgorde. Begin opnieuw vanuit het menu.",
    }
}
