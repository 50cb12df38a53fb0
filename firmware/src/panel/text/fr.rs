//! French texts (Belgian usage: NISS, INAMI, eID). A no-break space (U+00A0) goes before
//! `:`, `;`, `?` and `!`, as French typography wants, so that wrapping never starts a row with
//! the sign.

use super::Text;

/// Returns the French template of `key`.
pub(super) fn text(key: Text) -> &'static str {
    match key {
        Text::StatusOff => "Aucun médecin",
        Text::StatusAllFetched => "Tout est relevé",
        Text::StatusFetching => "Relève en cours",
        Text::StatusHeld => "Message retenu",
        Text::StatusEndsSoon => "Fin proche",
        Text::StatusPending => "Relève attendue",
        Text::StatusProblem => "Problème relève",
        Text::StatusEhealthReachable => "eHealth joignable",
        Text::StatusEhealthUnknown => "eHealth pas contacté",
        Text::StatusEhealthUnreachable => "eHealth injoignable depuis {time}",
        Text::StatusNoPrincipal => "Appuyez sur OK, puis configurez le médecin principal.",
        Text::ProblemWordUnreachable => "réseau",
        Text::ProblemWordAuthentication => "connexion",
        Text::ProblemWordDoctorAction => "vérifier",
        Text::ProblemWordPlatform => "eHealth",
        Text::ProblemWordShare => "partage",
        Text::ProblemWordClock => "horloge",
        Text::ProblemWordInternal => "panne box",
        Text::DetailNewToday => "Reçus ce jour\u{a0}: {count}",
        Text::DetailLastFetch => "Dernière\u{a0}: {time}",
        Text::DetailNotFetched => "Pas encore relevé",
        Text::DetailFetching => "Relève en cours",
        Text::DetailHeld => "Retenus: {count}",
        Text::DetailMandateEnds => "Mandat finit {date}",
        Text::DetailCertificateEnds => "Certif. finit {date}",
        Text::DetailAllFine => "Tout est en ordre",
        Text::ProblemUnreachable => {
            "La plateforme eHealth est injoignable. Vérifiez le câble réseau et l'internet \
             du cabinet\u{a0}; la box réessaie d'elle-même."
        }
        Text::ProblemAuthentication => {
            "eHealth a refusé la connexion. La box réessaie\u{a0}; si cela persiste, vérifiez le \
             certificat eHealth du médecin."
        }
        Text::ProblemDoctorAction => {
            "Le médecin doit agir\u{a0}: le certificat eHealth, son mot de passe ou les droits \
             d'accès. Apportez un certificat renouvelé et donnez à nouveau le mandat."
        }
        Text::ProblemPlatform => {
            "La plateforme eHealth a refusé une demande ou envoyé une réponse illisible. La \
             box réessaie\u{a0}; si cela persiste, appelez l'installateur."
        }
        Text::ProblemShare => {
            "La box ne peut pas écrire sur le partage. Appelez l'installateur\u{a0}: le stockage \
             est peut-être plein."
        }
        Text::ProblemClock => {
            "L'horloge de la box n'est pas à l'heure. Vérifiez le réseau\u{a0}: la box règle son \
             horloge via internet."
        }
        Text::ProblemInternal => {
            "La box a échoué. Redémarrez-la\u{a0}; si cela persiste, appelez l'installateur."
        }
        Text::MenuTitle => "Menu",
        Text::MenuGrantMandate => "Donner un mandat",
        Text::MenuSetUpMain => "Médecin principal",
        Text::MenuListMandates => "Liste des mandats",
        Text::MenuRemoveMandate => "Révoquer un mandat",
        Text::MenuNetwork => "Réseau",
        Text::MenuLeds => "Sens des voyants",
        Text::MenuLanguage => "Langue",
        Text::MenuAbout => "À propos",
        Text::MandatesNone => "Aucun mandat sur cette box.",
        Text::MandateActive => "jusqu'au {date}",
        Text::MandateEndsSoon => "finit le {date}!",
        Text::MandateNotStarted => "débute le {date}",
        Text::MandateEnded => "expiré le {date}",
        Text::MandateRevoked => "révoqué le {date}",
        Text::RemoveNone => "Aucun mandat en cours à révoquer.",
        Text::RemoveConfirm => {
            "Révoquer le mandat de {name}\u{a0}? La box arrête la relève et efface la copie du \
             certificat."
        }
        Text::RemoveDone => "Mandat de {name} révoqué.",
        Text::NetworkHost => "Nom\u{a0}: {host}",
        Text::NetworkNoAddress => "Pas d'adresse réseau",
        Text::NetworkShares => "Partages\u{a0}:",
        Text::NetworkNoShare => "Pas encore de partage",
        Text::LegendGreen => "Vert\u{a0}: chaque boîte a été relevée à temps.",
        Text::LegendAmber => {
            "Orange clignotant\u{a0}: relève en cours, pas encore relevée, ou un mandat ou un \
             certificat finit dans les 30 jours."
        }
        Text::LegendRed => "Rouge\u{a0}: une boîte ne peut pas être relevée.",
        Text::AboutVersion => "Version {version}",
        Text::AboutBox => "Identité de la box\u{a0}:",
        Text::AboutDoctors => "Médecins\u{a0}: {count}",
        Text::WizardMandateTitle => "Donner un mandat",
        Text::WizardSetupTitle => "Médecin principal",
        Text::WizardInsertStick => {
            "Insérez la clé USB avec le certificat eHealth, puis appuyez sur OK."
        }
        Text::WizardReadingStick => "Lecture de la clé USB...",
        Text::WizardCertificateTitle => "Certificat",
        Text::WizardPasswordTitle => "Mot de passe",
        Text::WizardOpeningCertificate => "Ouverture du certificat...",
        Text::WizardRizivTitle => "Numéro INAMI",
        Text::WizardRizivFor => "Tapez le numéro INAMI de {name}.",
        Text::WizardInsertEid => "Insérez l'eID du médecin dans le lecteur, puis appuyez sur OK.",
        Text::WizardReadingEid => "Lecture de l'eID...",
        Text::WizardIdentityTitle => "eID",
        Text::WizardIdentityInsz => "NISS {insz}",
        Text::WizardEndDateTitle => "Fin du mandat",
        Text::WizardEndDateLatest => "Maximum {date}",
        Text::WizardReviewTitle => "Texte à signer",
        Text::WizardReviewSetup => {
            "Configurer {name} (NISS {insz}) comme médecin principal de cette box\u{a0}?"
        }
        Text::WizardPinTitle => "Code PIN eID",
        Text::WizardPinTriesLeft => "Encore {tries} essais",
        Text::WizardPinOnReader => "Tapez votre code PIN sur le lecteur et validez-le.",
        Text::WizardSigning => "Signature en cours. Laissez l'eID dans le lecteur.",
        Text::WizardConfirming => "Vérification du PIN. Laissez l'eID dans le lecteur.",
        Text::WizardDoneTitle => "Terminé",
        Text::WizardDoneMandate => {
            "Mandat enregistré. La box relève l'eHealthBox de {name} jusqu'au {date}."
        }
        Text::WizardDoneSetup => {
            "{name} est le médecin principal de cette box. La relève commence."
        }
        Text::WizardCancelled => "Annulé. Rien n'a été enregistré.",
        Text::WizardRemoveStickAndCard => "Retirez la clé USB et la carte eID.",
        Text::ErrorTitle => "Problème",
        Text::HintNext => "OK\u{a0}: suivant",
        Text::HintChoose => "Haut/Bas puis OK",
        Text::HintScroll => "Haut/Bas défiler, OK",
        Text::HintPicker => "OK=ajouter long=fin",
        Text::HintDate => "Haut/Bas changer, OK",
        Text::HintYesNo => "OK=oui  Retour=non",
        Text::HintSign => "OK\u{a0}: accepter, signer",
        Text::HintTryAgain => "OK\u{a0}: réessayer",
        Text::HintBack => "Retour\u{a0}: revenir",
        Text::ErrorNoStick => "Aucune clé USB trouvée. Insérez la clé avec le certificat eHealth.",
        Text::ErrorNoCertificate => {
            "Aucun fichier .p12 ou .acc-p12 sur la clé USB. Copiez-y le certificat eHealth."
        }
        Text::ErrorTooManyFiles => {
            "La clé USB contient trop de fichiers à parcourir. Utilisez une clé avec \
             seulement le certificat."
        }
        Text::ErrorStickUnreadable => {
            "La clé USB est illisible. Copiez le certificat sur une autre clé."
        }
        Text::ErrorStickRemoved => {
            "La clé USB a été retirée pendant la lecture. Insérez-la à nouveau."
        }
        Text::ErrorStickMountUnavailable => {
            "La box ne peut pas ouvrir les clés USB. Redémarrez-la\u{a0}; si cela persiste, \
             appelez l'installateur."
        }
        Text::ErrorFileTooLarge => {
            "{file} est trop grand pour un certificat eHealth. Choisissez le fichier émis \
             par eHealth."
        }
        Text::ErrorNotKeystore => {
            "{file} n'est pas un certificat eHealth. Choisissez le fichier .p12 ou .acc-p12 \
             émis par eHealth."
        }
        Text::ErrorWrongPassword => {
            "Mot de passe erroné. Attention aux majuscules et minuscules\u{a0}; tapez-le à nouveau."
        }
        Text::ErrorKeystoreDamaged => {
            "Le fichier du certificat est abîmé ou incomplet. Copiez-le à nouveau, ou \
             demandez-en un nouveau à eHealth."
        }
        Text::ErrorCertificateExpired => {
            "Le certificat eHealth a expiré le {date}. Renouvelez-le et apportez le nouveau \
             fichier."
        }
        Text::ErrorCertificateNotYetValid => {
            "Le certificat eHealth n'est valable qu'à partir du {date}. Vérifiez l'horloge de \
             la box, ou attendez cette date."
        }
        Text::ErrorCertificateUntrusted => {
            "Le certificat n'a pas été émis par eHealth, ou il est abîmé. Utilisez le \
             certificat émis par eHealth."
        }
        Text::ErrorCertificateNotPersonal => {
            "Ce certificat ne nomme aucune personne. Choisissez le certificat eHealth \
             personnel du médecin."
        }
        Text::ErrorCertificateEndsNow => {
            "Le certificat eHealth expire maintenant\u{a0}: il ne laisse pas de temps pour un \
             mandat. Renouvelez-le d'abord."
        }
        Text::ErrorInsz => "Le NISS {value} n'est pas valable. Vérifiez l'eID et le certificat.",
        Text::ErrorRizivFormat => "Un numéro INAMI a 11 chiffres. Tapez-le à nouveau.",
        Text::ErrorRizivCheckDigits => {
            "Le numéro INAMI {value} a des chiffres de contrôle erronés. Tapez-le à nouveau."
        }
        Text::ErrorName => "Le nom ne correspond pas à l'eID. Vérifiez que c'est l'eID du médecin.",
        Text::ErrorOtherPerson => {
            "L'eID et le certificat appartiennent à des personnes différentes. Insérez l'eID \
             du médecin de ce certificat."
        }
        Text::ErrorMandatorIsMain => {
            "C'est le médecin principal de cette box, qui n'a pas besoin de mandat. Un mandat \
             vient d'un confrère."
        }
        Text::ErrorNoMainDoctor => {
            "Cette box n'a pas encore de médecin principal. Configurez-le d'abord (menu)."
        }
        Text::ErrorMainDoctorExists => "Cette box a déjà un médecin principal\u{a0}: {name}.",
        Text::ErrorAlreadyMandator => {
            "Ce médecin a un mandat sur cette box. Révoquez d'abord le mandat."
        }
        Text::ErrorEndDatePast => {
            "La date de fin est passée. Choisissez aujourd'hui ou une date ultérieure."
        }
        Text::ErrorEndDateAfterCertificate => {
            "La date de fin dépasse la fin du certificat ({date}). Choisissez une date \
             antérieure."
        }
        Text::ErrorCardService => {
            "Le service du lecteur de cartes ne tourne pas. Redémarrez la box\u{a0}; si cela \
             persiste, appelez l'installateur."
        }
        Text::ErrorNoReader => "Aucun lecteur de cartes trouvé. Branchez le lecteur eID.",
        Text::ErrorNoCard => "Pas de carte dans le lecteur. Insérez l'eID et appuyez sur OK.",
        Text::ErrorCardRemoved => "L'eID a été retirée trop tôt. Insérez-la à nouveau.",
        Text::ErrorNotEid => "La carte dans le lecteur n'est pas une eID belge. Insérez l'eID.",
        Text::ErrorCardExpired => {
            "Cette eID a expiré le {date}. Le médecin a besoin d'une nouvelle carte."
        }
        Text::ErrorCardUntrusted => {
            "L'eID ne peut pas être vérifiée\u{a0}: la carte est abîmée ou n'est pas authentique. \
             Essayez une autre carte."
        }
        Text::ErrorCardCannotSign => {
            "Cette eID n'a pas de certificat de signature et ne peut pas signer."
        }
        Text::ErrorChipCheckBlocked => {
            "L'eID a bloqué le contrôle de sa puce après 5000 usages. Saisissez le PIN sur un \
             PC avec le logiciel eID, puis réinsérez la carte."
        }
        Text::ErrorCardFailed => {
            "Le lecteur ou la carte eID a échoué. Retirez la carte, réinsérez-la et \
             réessayez."
        }
        Text::ErrorWrongPin => {
            "Code PIN erroné. Encore {tries} essais avant que la carte bloque le PIN."
        }
        Text::ErrorPinBlocked => {
            "Le code PIN est bloqué. Le titulaire doit le faire débloquer à la commune."
        }
        Text::ErrorPinFormat => "Un code PIN a 4 à 12 chiffres. Tapez-le à nouveau.",
        Text::ErrorPinpadTimeout => {
            "Le lecteur de cartes a attendu le code PIN 30 secondes. Appuyez sur OK et tapez-le \
             sur le lecteur."
        }
        Text::ErrorPinpadCancelled => {
            "La saisie du code PIN a été annulée sur le lecteur de cartes. Appuyez sur OK pour \
             le taper à nouveau."
        }
        Text::ErrorSignatureRejected => {
            "La signature de l'eID n'est pas valable. Rien n'a été enregistré\u{a0}; réessayez \
             avec la même carte."
        }
        Text::ErrorStorage => {
            "La box n'a pas pu enregistrer. Rien n'a été enregistré\u{a0}; appelez l'installateur."
        }
        Text::ErrorBoxSetup => {
            "La box n'est pas complètement installée (certificats de confiance ou identité \
             de la box). Appelez l'installateur."
        }
        Text::ErrorStartAgain => {
            "Une étape a été faite dans le désordre. Recommencez depuis le menu."
        }
    }
}
