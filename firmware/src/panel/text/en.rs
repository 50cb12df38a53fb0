//! English texts.

use super::Text;

/// Returns the English template of `key`.
pub(super) fn text(key: Text) -> &'static str {
    match key {
        Text::StatusOff => "No doctor yet",
        Text::StatusAllFetched => "All fetched",
        Text::StatusFetching => "Fetching",
        Text::StatusHeld => "Message held",
        Text::StatusEndsSoon => "Ending soon",
        Text::StatusPending => "Fetch pending",
        Text::StatusProblem => "Fetch problem",
        Text::StatusEhealthReachable => "eHealth reachable",
        Text::StatusEhealthUnknown => "eHealth not tried yet",
        Text::StatusEhealthUnreachable => "eHealth unreachable since {time}",
        Text::StatusNoPrincipal => "Press OK and set up the main doctor in the menu.",
        Text::ProblemWordUnreachable => "network",
        Text::ProblemWordAuthentication => "login",
        Text::ProblemWordDoctorAction => "to check",
        Text::ProblemWordPlatform => "platform",
        Text::ProblemWordShare => "share",
        Text::ProblemWordClock => "clock",
        Text::ProblemWordInternal => "box error",
        Text::DetailNewToday => "New today: {count}",
        Text::DetailLastFetch => "Last fetch: {time}",
        Text::DetailNotFetched => "Not fetched yet",
        Text::DetailFetching => "Fetching now",
        Text::DetailHeld => "Held: {count}",
        Text::DetailMandateEnds => "Mandate ends {date}",
        Text::DetailCertificateEnds => "Cert. ends {date}",
        Text::DetailAllFine => "Everything is fine",
        Text::ProblemUnreachable => {
            "The eHealth platform cannot be reached. Check the network cable and the \
             practice's internet; the box tries again by itself."
        }
        Text::ProblemAuthentication => {
            "eHealth refused the login. The box tries again; if this stays, check the \
             doctor's eHealth certificate."
        }
        Text::ProblemDoctorAction => {
            "The doctor must act: the eHealth certificate, its password or the access \
             rights. Bring a renewed certificate and grant the mandate again."
        }
        Text::ProblemPlatform => {
            "The eHealth platform rejected a request or sent a reply the box cannot read. \
             The box tries again; if this stays, call the installer."
        }
        Text::ProblemShare => {
            "The box cannot write on the share. Call the installer: the storage may be full."
        }
        Text::ProblemClock => {
            "The box's clock is not set. Check the network: the box sets its clock from the \
             internet."
        }
        Text::ProblemInternal => "The box failed. Restart it; if this stays, call the installer.",
        Text::MenuTitle => "Menu",
        Text::MenuGrantMandate => "Grant a mandate",
        Text::MenuSetUpMain => "Set up main doctor",
        Text::MenuListMandates => "List mandates",
        Text::MenuRemoveMandate => "Remove a mandate",
        Text::MenuNetwork => "Network",
        Text::MenuLeds => "LED meanings",
        Text::MenuLanguage => "Language",
        Text::MenuAbout => "About",
        Text::MandatesNone => "No mandates on this box.",
        Text::MandateActive => "until {date}",
        Text::MandateEndsSoon => "ends {date}!",
        Text::MandateNotStarted => "starts {date}",
        Text::MandateEnded => "ended {date}",
        Text::MandateRevoked => "removed {date}",
        Text::RemoveNone => "No mandate in force to remove.",
        Text::RemoveConfirm => {
            "Remove the mandate of {name}? The box stops fetching and wipes the certificate \
             copy."
        }
        Text::RemoveDone => "Mandate of {name} removed.",
        Text::NetworkHost => "Name: {host}",
        Text::NetworkNoAddress => "No network address",
        Text::NetworkShares => "Shares:",
        Text::NetworkNoShare => "No share yet",
        Text::LegendGreen => "Green: every box was fetched in time.",
        Text::LegendAmber => {
            "Amber blinking: fetching, not fetched yet, or a mandate or certificate ends \
             within 30 days."
        }
        Text::LegendRed => "Red: a box cannot be fetched.",
        Text::AboutVersion => "Version {version}",
        Text::AboutBox => "Box identity:",
        Text::AboutDoctors => "Doctors: {count}",
        Text::WizardMandateTitle => "Grant a mandate",
        Text::WizardSetupTitle => "Main doctor",
        Text::WizardInsertStick => {
            "Insert the USB stick with the eHealth certificate, then press OK."
        }
        Text::WizardReadingStick => "Reading the USB stick...",
        Text::WizardCertificateTitle => "Certificate",
        Text::WizardPasswordTitle => "Password",
        Text::WizardOpeningCertificate => "Opening the certificate...",
        Text::WizardRizivTitle => "RIZIV number",
        Text::WizardRizivFor => "Type the RIZIV number of {name}.",
        Text::WizardInsertEid => "Insert the doctor's eID in the reader, then press OK.",
        Text::WizardReadingEid => "Reading the eID...",
        Text::WizardIdentityTitle => "eID",
        Text::WizardIdentityInsz => "INSZ {insz}",
        Text::WizardEndDateTitle => "Mandate ends",
        Text::WizardEndDateLatest => "Latest {date}",
        Text::WizardReviewTitle => "Text to sign",
        Text::WizardReviewSetup => "Set up {name} (INSZ {insz}) as the main doctor of this box?",
        Text::WizardPinTitle => "eID PIN",
        Text::WizardPinTriesLeft => "{tries} tries left",
        Text::WizardPinOnReader => "Type your PIN on the card reader and confirm it there.",
        Text::WizardSigning => "Signing. Keep the eID in the reader.",
        Text::WizardConfirming => "Checking the PIN. Keep the eID in the reader.",
        Text::WizardDoneTitle => "Done",
        Text::WizardDoneMandate => {
            "Mandate stored. The box fetches the eHealthBox of {name} until {date}."
        }
        Text::WizardDoneSetup => "{name} is the main doctor of this box. Fetching starts now.",
        Text::WizardCancelled => "Cancelled. Nothing was stored.",
        Text::WizardRemoveStickAndCard => "Remove the USB stick and the eID card.",
        Text::ErrorTitle => "Problem",
        Text::HintNext => "OK: next",
        Text::HintChoose => "Up/Down, OK: choose",
        Text::HintScroll => "Up/Down scroll, OK",
        Text::HintPicker => "OK=add  hold OK=done",
        Text::HintDate => "Up/Down change, OK",
        Text::HintYesNo => "OK=yes  Back=no",
        Text::HintSign => "OK: agree and sign",
        Text::HintTryAgain => "OK: try again",
        Text::HintBack => "Back: return",
        Text::ErrorNoStick => "No USB stick found. Insert the stick with the eHealth certificate.",
        Text::ErrorNoCertificate => {
            "No .p12 or .acc-p12 file on the USB stick. Copy the eHealth certificate onto it."
        }
        Text::ErrorTooManyFiles => {
            "The USB stick holds too many files to search. Use a stick with only the \
             certificate on it."
        }
        Text::ErrorStickUnreadable => {
            "The USB stick cannot be read. Copy the certificate to another stick."
        }
        Text::ErrorStickRemoved => "The USB stick was removed while it was read. Insert it again.",
        Text::ErrorStickMountUnavailable => {
            "The box cannot open USB sticks. Restart it; if this stays, call the installer."
        }
        Text::ErrorFileTooLarge => {
            "{file} is too large for an eHealth certificate. Choose the file that eHealth \
             issued."
        }
        Text::ErrorNotKeystore => {
            "{file} is not an eHealth certificate. Choose the .p12 or .acc-p12 file that \
             eHealth issued."
        }
        Text::ErrorWrongPassword => {
            "Wrong password. Mind capitals and lower case, and type it again."
        }
        Text::ErrorKeystoreDamaged => {
            "The certificate file is damaged or incomplete. Copy it again, or ask eHealth \
             for a new one."
        }
        Text::ErrorCertificateExpired => {
            "The eHealth certificate expired on {date}. Renew it and bring the new file."
        }
        Text::ErrorCertificateNotYetValid => {
            "The eHealth certificate is valid only from {date}. Check the box's clock, or \
             wait until then."
        }
        Text::ErrorCertificateUntrusted => {
            "The certificate was not issued by eHealth, or it is damaged. Use the \
             certificate that eHealth issued."
        }
        Text::ErrorCertificateNotPersonal => {
            "This certificate names no person. Choose the doctor's personal eHealth \
             certificate."
        }
        Text::ErrorCertificateEndsNow => {
            "The eHealth certificate ends now, which leaves no time for a mandate. Renew \
             it first."
        }
        Text::ErrorInsz => "The INSZ {value} is not valid. Check the eID and the certificate.",
        Text::ErrorRizivFormat => "A RIZIV number has 11 digits. Type it again.",
        Text::ErrorRizivCheckDigits => {
            "The RIZIV number {value} has wrong check digits. Type it again."
        }
        Text::ErrorName => {
            "The name does not match the eID. Check that the eID is the doctor's own."
        }
        Text::ErrorOtherPerson => {
            "The eID and the certificate belong to different people. Insert the eID of the \
             doctor whose certificate this is."
        }
        Text::ErrorMandatorIsMain => {
            "This is the main doctor of this box, who needs no mandate. A mandate comes \
             from a colleague."
        }
        Text::ErrorNoMainDoctor => {
            "This box has no main doctor yet. Set up the main doctor first (menu)."
        }
        Text::ErrorMainDoctorExists => "This box already has a main doctor: {name}.",
        Text::ErrorAlreadyMandator => {
            "This doctor has a mandate on this box. Remove the mandate first."
        }
        Text::ErrorEndDatePast => "The end date is in the past. Choose today or a later date.",
        Text::ErrorEndDateAfterCertificate => {
            "The end date is after the end of the certificate ({date}). Choose an earlier \
             date."
        }
        Text::ErrorCardService => {
            "The card reader service is not running. Restart the box; if this stays, call \
             the installer."
        }
        Text::ErrorNoReader => "No card reader found. Plug in the eID reader.",
        Text::ErrorNoCard => "No card in the reader. Insert the eID and press OK.",
        Text::ErrorCardRemoved => "The eID was removed too early. Insert it again.",
        Text::ErrorNotEid => "The card in the reader is not a Belgian eID. Insert the eID.",
        Text::ErrorCardExpired => "This eID expired on {date}. The doctor needs a new card.",
        Text::ErrorCardUntrusted => {
            "The eID cannot be verified: the card is damaged or not genuine. Try another \
             card."
        }
        Text::ErrorCardCannotSign => "This eID has no signing certificate and cannot sign.",
        Text::ErrorChipCheckBlocked => {
            "This eID blocked its chip check after 5000 uses. Enter its PIN once on a \
             computer with the eID software, then insert the card again."
        }
        Text::ErrorCardFailed => {
            "The eID reader or card failed. Take the card out, insert it again and retry."
        }
        Text::ErrorWrongPin => "Wrong PIN. {tries} tries left before the card blocks the PIN.",
        Text::ErrorPinBlocked => {
            "The PIN is blocked. The card holder must have it unblocked at the municipality."
        }
        Text::ErrorPinFormat => "A PIN has 4 to 12 digits. Type it again.",
        Text::ErrorPinpadTimeout => {
            "The card reader waited 30 seconds for the PIN. Press OK and type it on the reader."
        }
        Text::ErrorPinpadCancelled => {
            "The PIN entry was cancelled on the card reader. Press OK to type it again."
        }
        Text::ErrorSignatureRejected => {
            "The eID's signature did not verify. Nothing was stored; try again with the same \
             card."
        }
        Text::ErrorStorage => "The box could not save. Nothing was stored; call the installer.",
        Text::ErrorBoxSetup => {
            "The box is not installed completely (trust anchors or box identity). Call the \
             installer."
        }
        Text::ErrorStartAgain => "Something went out of order. Start again from the menu.",
    }
}
