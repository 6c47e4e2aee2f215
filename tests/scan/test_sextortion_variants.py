"""Sextortion in the forms of issue 13, against the shipped rules: other payment channels
(USDT on Tron, Litecoin, gift cards, Paysafecard, Western Union), a messenger contact
instead of a wallet, the euphemisms of the claim, the first-contact and sexting forms,
and the languages added with the issue. Every message here was written for these tests.

Each scam must be held (quarantine or reject). The look-alikes (receipts, support
pages, dating notifications, training mails, newsletters that quote a scam sentence)
must be accepted: a channel or one quoted sentence is never a scam.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

import milter.config
from milter.mail.envelope import Envelope
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action, Verdict

BTC = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
LTC = "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9"
DOGE = "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"
# A Solana key (no checksum: 32 bytes in Base58): SHA-256(b"scam-milter solana test").
SOL = "Etug7NFMiV5e7mXstaSYgsbL8MKRdnMybUcbqBnqYfLv"
RECIPIENT = "kim@example.org"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([milter.config.shipped_rules_dir()])


def message(subject: str, body: str, sender: str = "noreply@example.net") -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = RECIPIENT
    mail["Subject"] = subject
    mail.set_content(body)
    return mail.as_bytes()


def scan(scanner: Scanner, subject: str, body: str, sender: str = "x@example.net") -> Verdict:
    return scanner.scan(message(subject, body, sender), Envelope(rcpt_to=(RECIPIENT,)))


def explain(verdict: Verdict) -> str:
    rules = ", ".join(f"{hit.id}({hit.score:g})" for hit in verdict.rules) or "no rule"
    return f"{verdict.action.value}, score {verdict.score:g}: {rules}"


# name -> (subject, body). Names say the channel, form or language each one tries.
SCAMS: dict[str, tuple[str, str]] = {
    "usdt_tron_en": (
        "Your secret",
        "Hi. Months ago I got into your phone with the Pegasus spyware. Through your own "
        "webcam I recorded you jerking off in front of the screen while an adult site was "
        f"open. Send 900 USDT (TRC20) to {TRON} within 48 hours, or the video goes to all "
        "your contacts.",
    ),
    "solana_it": (
        "Ultimo avvertimento",
        "Ho hackerato il tuo dispositivo e ti ho registrato con la tua webcam mentre ti "
        "masturbavi guardando un sito porno. Invia 8 SOL a questo indirizzo Solana: "
        f"{SOL} entro 48 ore, altrimenti il video andrà a tutti i tuoi contatti.",
    ),
    "calls_itself_no_scam_en": (
        "Read this carefully",
        "This is no scam, no phishing and no fraud. I hacked your device and recorded you "
        "through your webcam while you watched porn. Send 1200 USD in bitcoin to "
        f"{BTC} within 48 hours, or the video goes to all your contacts.",
    ),
    "litecoin_de": (
        "Letzte Warnung",
        "Ich habe Ihr Gerät gehackt und mit Ihrer Kamera aufgenommen, wie Sie sich "
        "selbst befriedigen. Überweisen Sie 700 EUR in Litecoin an "
        f"{LTC} innerhalb von 48 Stunden, sonst schicke ich das Video an alle Ihre "
        "Kontakte.",
    ),
    "steam_gift_cards_en": (
        "I know what you did",
        "I hacked your laptop and recorded you through your webcam while you were "
        "watching porn. Buy Steam gift cards worth $500 and email me the codes within "
        "24 hours. If not, every one of your contacts gets the clip.",
    ),
    "paysafecard_fr": (
        "Dernier avertissement",
        "J'ai piraté ton ordinateur et je t'ai filmé avec ta webcam pendant que tu te "
        "touchais devant un site porno. Achète des Paysafecard pour 300 € et envoie-moi "
        "les codes PIN sous 48 heures, sinon j'envoie la vidéo à tous tes contacts.",
    ),
    "western_union_es": (
        "Tu video",
        "Hackeé tu dispositivo y te grabé con tu cámara mientras te tocabas viendo "
        "sitios para adultos. Envía 500 dólares por Western Union en 48 horas o "
        "enviaré el vídeo a todos tus contactos y a tu familia.",
    ),
    "telegram_handle_en": (
        "Read carefully",
        "I have full access to your device. I recorded you pleasuring yourself while "
        "you watched adult videos. Contact me on Telegram @silent_watcher77 within 24 "
        "hours, or I send the recording to your family and colleagues.",
    ),
    "whatsapp_number_nl": (
        "Laatste kans",
        "Ik heb je computer gehackt en je via je eigen webcam gefilmd terwijl je jezelf "
        "bevredigde op een pornosite. Stuur me binnen 24 uur een bericht op WhatsApp "
        "+31 6 12345678, anders stuur ik de video naar al je contacten.",
    ),
    "signal_number_de": (
        "Wichtig",
        "Mein Trojaner hat mir Zugriff auf Ihren Rechner gegeben, und die Kamera hat "
        "aufgenommen, wie Sie sich vor dem Bildschirm einen runtergeholt haben. Schreiben "
        "Sie mir innerhalb von 24 Stunden auf Signal +49 151 23456789, sonst geht das "
        "Video an Ihre Familie und Kollegen.",
    ),
    "session_id_en": (
        "Private",
        "I infected your computer with a trojan and filmed you masturbating to porn. "
        "Message me on Session "
        "05a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90 within 48 "
        "hours or I will share the video with all your friends.",
    ),
    "tme_link_it": (
        "Ultimo avviso",
        "Ho hackerato il tuo dispositivo e ti ho registrato tramite la tua stessa webcam "
        "mentre ti toccavi davanti a un sito per adulti. Scrivimi su https://t.me/occhio_nero "
        "entro 24 ore, altrimenti invierò il video a tutti i tuoi contatti.",
    ),
    "first_contact_en": (
        "Webcam",
        "I recorded you through your own webcam while you were pleasuring yourself on an "
        "adult site. Reply to this email within 24 hours or the video goes out to all "
        "your contacts.",
    ),
    "first_contact_fr": (
        "Ta vidéo",
        "Je t'ai filmé avec ta webcam pendant que tu te branlais devant un site porno. "
        "Réponds à ce mail sous 24 heures, sinon j'envoie la vidéo à tous tes contacts.",
    ),
    "first_contact_pl": (
        "Nagranie",
        "Nagrałem cię przez twoją własną kamerkę, kiedy oglądałeś strony dla dorosłych i "
        "się zaspokajałeś. Odpowiedz na tę wiadomość w ciągu 24 godzin, inaczej wyślę "
        "nagranie wszystkim twoim znajomym i rodzinie.",
    ),
    "sexting_money_en": (
        "Remember me?",
        "I still have the nude pictures you sent me on that dating app. Pay $400 in "
        f"bitcoin to {BTC} or I will send them to your wife and post them online.",
    ),
    "sexting_more_images_nl": (
        "Je foto's",
        "Ik heb de naaktfoto's die je me stuurde nog steeds. Stuur me meer foto's, "
        "anders stuur ik ze naar al je vrienden en familie.",
    ),
    "sexting_giftcard_de": (
        "Deine Bilder",
        "Ich habe die Nacktbilder, die du mir geschickt hast. Kauf Apple Gift Cards für "
        "300 Euro und schick mir die Codes, sonst bekommen deine Kontakte die Bilder.",
    ),
    "sexting_es": (
        "Tus fotos",
        "Tengo las fotos desnudas que me enviaste. Envía 300 dólares en bitcoin o "
        "compartiré las fotos con tus amigos y tu familia.",
    ),
    "lang_it": (
        "Il tuo account",
        "Ciao. Ho accesso completo al tuo dispositivo: ho installato un trojan. Ti ho "
        "registrato tramite la webcam mentre guardavi siti per adulti e ti davi piacere. "
        f"Paga 800 euro in Bitcoin a questo indirizzo: {BTC} entro 48 ore. Il timer è "
        "partito quando hai aperto questa email. Altrimenti invierò il video a tutti i "
        "tuoi contatti. Non andare alla polizia.",
    ),
    "lang_pl": (
        "Twoje urządzenie",
        "Zhakowałem twoje urządzenie i zainstalowałem trojana. Nagrałem cię przez kamerkę, "
        "kiedy oglądałeś strony dla dorosłych i waliłeś konia. Przelej 2000 zł w "
        f"bitcoinach na adres {BTC} w ciągu 48 godzin, bo wyślę nagranie wszystkim twoim "
        "kontaktom. Nie zgłaszaj tego na policję.",
    ),
    "lang_cs": (
        "Váš účet",
        "Hacknul jsem váš počítač a mám plný přístup k vašemu zařízení. Natočil jsem vás "
        "přes webkameru, když jste sledoval stránky pro dospělé a uspokojoval se. Pošlete "
        f"1200 USD v bitcoinech na {BTC} do 48 hodin, jinak pošlu video všem vašim "
        "kontaktům. Nechoďte na policii.",
    ),
    "lang_sk": (
        "Vaše zariadenie",
        "Hackol som vaše zariadenie a nainštaloval trójskeho koňa. Nahral som vás cez "
        "webkameru, keď ste pozerali stránky pre dospelých a uspokojovali sa. Zaplaťte "
        f"1000 USD v bitcoinoch na {BTC} do 48 hodín, inak pošlem video všetkým vašim "
        "kontaktom a priateľom.",
    ),
    "lang_ro": (
        "Contul tău",
        "Ți-am spart dispozitivul și am instalat un troian. Te-am înregistrat prin camera "
        "web în timp ce vizitai site-uri pentru adulți și te satisfăceai. Trimite 1000 USD "
        f"în bitcoin la {BTC} în 48 de ore, altfel voi trimite videoclipul tuturor "
        "contactelor tale. Nu merge la poliție.",
    ),
    "lang_hu": (
        "Fiókod",
        "Feltörtem a számítógépedet és telepítettem egy trójai programot. Felvettelek a "
        "webkamerádon keresztül, miközben felnőtt oldalakat néztél és kielégítetted magad. "
        f"Utalj 1000 USD-t bitcoinban erre a címre: {BTC} 48 órán belül, különben "
        "elküldöm a videót az összes ismerősödnek.",
    ),
    "lang_sv": (
        "Ditt konto",
        "Jag har hackat din dator och installerat en trojan. Jag har spelat in dig via din "
        "egen webbkamera medan du tittade på porrsidor och runkade. Betala 1000 USD i "
        f"bitcoin till {BTC} inom 48 timmar, annars skickar jag videon till alla dina "
        "kontakter. Gå inte till polisen.",
    ),
    "lang_da": (
        "Din konto",
        "Jeg har hacket din computer og installeret en trojaner. Jeg har filmet dig "
        "gennem dit webcam, mens du så pornosider og onanerede. Betal 1000 USD i bitcoin "
        f"til {BTC} inden for 48 timer, ellers sender jeg videoen til alle dine kontakter. "
        "Gå ikke til politiet.",
    ),
    "lang_tr": (
        "Hesabınız",
        "Cihazınızı hackledim ve bir truva atı yükledim. Yetişkin sitelerini izlerken "
        "kendinizi tatmin ettiğiniz anları web kameranız üzerinden kaydettim. 48 saat "
        f"içinde {BTC} adresine 1000 dolar değerinde bitcoin gönderin, yoksa videoyu tüm "
        "kişilerinize göndereceğim. Polise gitmeyin.",
    ),
    "lang_pt_euphemism": (
        "Seu segredo",
        "Hackeei seu dispositivo e gravei você pela sua câmera enquanto você se tocando "
        "assistia sites adultos. Envie 500 dólares em bitcoin para "
        f"{BTC} em 48 horas ou vou enviar o vídeo para todos os seus contatos.",
    ),
    "structure_finnish": (
        "Viesti",
        "Sinulla on 48h aikaa. Maksa 1200 EUR bitcoineina osoitteeseen "
        f"{BTC}, muuten lähetän videon kaikille yhteystiedoillesi.",
    ),
    "moneygram_en": (
        "Final notice",
        "I took control of your camera and filmed you while you were satisfying yourself "
        "to explicit videos. Send $400 by MoneyGram within 48 hours, otherwise the "
        "recording gets sent to your boss and your family.",
    ),
    "wa_me_link_pt": (
        "Seu vídeo",
        "Hackeei seu computador e gravei você pela sua câmera enquanto você batia punheta "
        "vendo sites pornô. Fale comigo em https://wa.me/5511987654321 em 24 horas, "
        "senão vou enviar o vídeo para todos os seus contatos.",
    ),
    "dogecoin_da": (
        "Din video",
        "Jeg har hacket din computer og optaget dig via dit webcam, mens du onanerede til "
        f"pornofilm. Send 5000 DOGE til {DOGE} inden for 48 timer, ellers sender jeg "
        "videoen til alle dine kontakter.",
    ),
    # The shortest forms: two claims and a channel; a first contact; sexting on Telegram.
    "short_paysafecard_en": (
        "Video",
        "I recorded you watching porn. Pay 300 EUR with Paysafecard within 24 hours.",
    ),
    "short_first_contact_en": (
        "Video",
        "I have a video of you masturbating. Answer me within 24 hours or I'll send it to "
        "your contacts.",
    ),
    "sexting_telegram_en": (
        "hey",
        "I still have your nudes you sent me. Write me on Telegram @dark_keeper_1 or your "
        "friends get them.",
    ),
    "sexting_more_images_pl": (
        "Zdjęcia",
        "Mam twoje nagie zdjęcia, które mi wysłałeś. Wyślij mi więcej zdjęć, inaczej "
        "roześlę je twoim znajomym.",
    ),
    "sexting_paysafecard_it": (
        "Le tue foto",
        "Ho le foto nude che mi hai mandato. Paga 200 euro con una Paysafecard o le "
        "invierò a tutti i tuoi contatti.",
    ),
    "first_contact_cs": (
        "Video",
        "Natočil jsem vás přes vaši webkameru, když jste se uspokojoval. Odpovězte do 24 "
        "hodin, jinak pošlu video všem vašim kontaktům.",
    ),
    "first_contact_tr": (
        "Video",
        "Web kameranız üzerinden sizi kaydettim, kendinizi tatmin ederken. 24 saat içinde "
        "cevap verin, yoksa videoyu tüm kişilerinize göndereceğim.",
    ),
    "litecoin_ro": (
        "Video",
        "Te-am înregistrat prin camera web în timp ce te masturbai. Trimite 0.5 LTC la "
        f"{LTC} în 48 de ore.",
    ),
    "western_union_hu": (
        "Videó",
        "Feltörtem a számítógépedet, és felvettelek, miközben pornót néztél. Küldj 200 "
        "eurót Western Unionnal 48 órán belül, különben elküldöm a videót az "
        "ismerőseidnek.",
    ),
    "apple_gift_cards_sv": (
        "Video",
        "Jag har spelat in dig när du runkade. Köp Apple gift cards för 3000 kr och skicka "
        "koderna inom 24 timmar, annars skickar jag videon till dina vänner.",
    ),
}


# The channels and forms again, in the languages of issue 13: the claims as each
# language writes them, with a channel, as a first contact or as sexting.
LANGUAGE_FORMS: dict[str, tuple[str, str]] = {
    "paysafecard_pl": (
        "Video",
        "Nagrałem cię, kiedy oglądałeś strony porno. Kup Paysafecard za 500 zł i wyślij mi PIN"
        " w ciągu 24 godzin.",
    ),
    "telegram_cs": (
        "Video",
        "Mám video, na kterém masturbujete. Napište mi na Telegram @tichy_pozorovatel do 24 hodin.",
    ),
    "western_union_ro": (
        "Video",
        "Te-am filmat prin camera web în timp ce te masturbai. Trimite 300 de euro prin "
        "Western Union în 48 de ore.",
    ),
    "steam_gift_card_hu": (
        "Video",
        "Felvettelek a webkamerádon, miközben maszturbáltál. Vegyél Steam ajándékkártyát 50 "
        "000 Ft értékben, és küldd el a kódokat 24 órán belül.",
    ),
    "whatsapp_sv": (
        "Video",
        "Jag har filmat dig när du onanerade framför porrsidor. Skriv till mig på WhatsApp +46"
        " 70 123 45 67 inom 24 timmar.",
    ),
    "telegram_tr": (
        "Video",
        "Web kameranız üzerinden sizi kaydettim, mastürbasyon yaparken. 24 saat içinde "
        "Telegram @gizli_goz_01 adresinden bana yazın.",
    ),
    "sexting_more_images_it": (
        "Video",
        "Ho le tue foto intime che mi hai inviato. Mandami altre foto, altrimenti le invierò "
        "ai tuoi amici e alla tua famiglia.",
    ),
    "sexting_bitcoin_fr": (
        "Video",
        "J'ai les photos nues que tu m'as envoyées. Envoie-moi 300 € en bitcoin, sinon je les "
        "envoie à tous tes contacts.",
    ),
    "first_contact_sk": (
        "Video",
        "Nahral som vás cez webkameru, keď ste sa uspokojovali. Odpovedzte do 24 hodín, inak "
        "pošlem video všetkým vašim kontaktom.",
    ),
    "first_contact_ro": (
        "Video",
        "Te-am înregistrat prin camera ta web în timp ce te masturbai. Răspunde în 24 de ore, "
        "altfel voi trimite videoclipul tuturor contactelor tale.",
    ),
    "first_contact_hu": (
        "Video",
        "Felvettelek a webkamerádon keresztül, miközben kielégítetted magad. Válaszolj 24 órán"
        " belül, különben elküldöm a videót az összes ismerősödnek.",
    ),
    "first_contact_sv": (
        "Video",
        "Jag har spelat in dig via din webbkamera när du runkade. Svara inom 24 timmar, annars"
        " skickar jag videon till alla dina kontakter.",
    ),
    "first_contact_da": (
        "Video",
        "Jeg har optaget dig via dit webcam, mens du onanerede. Svar inden for 24 timer, "
        "ellers sender jeg videoen til alle dine kontakter.",
    ),
    "first_contact_it": (
        "Video",
        "Ti ho registrato tramite la tua webcam mentre ti toccavi. Rispondi entro 24 ore, "
        "altrimenti invierò il video a tutti i tuoi contatti.",
    ),
    "first_contact_es": (
        "Video",
        "Te grabé con tu cámara mientras te tocabas. Responde en 24 horas o enviaré el vídeo a"
        " todos tus contactos.",
    ),
    "sexting_more_images_de": (
        "Video",
        "Ich habe die Nacktfotos, die du mir geschickt hast. Schick mir weitere Fotos, sonst "
        "schicke ich sie an alle deine Kontakte.",
    ),
}
ALL_SCAMS = SCAMS | LANGUAGE_FORMS


@pytest.mark.parametrize("name", sorted(ALL_SCAMS))
def test_scam_variant_is_held(scanner: Scanner, name: str) -> None:
    subject, body = ALL_SCAMS[name]
    verdict = scan(scanner, subject, body)
    assert verdict.action.held, f"{name} not held: {explain(verdict)}"


# Look-alikes: a channel, an address or one quoted sentence, never the extortion itself.
HAMS: dict[str, tuple[str, str, str]] = {
    "exchange_receipt_tron": (
        "Withdrawal confirmed",
        "Your withdrawal of 250 USDT (TRC20) to "
        f"{TRON} has been sent. Network fee: 1 USDT. Withdrawals are processed within 24 "
        "hours. If you did not request this, contact support and freeze your account.",
        "noreply@exchange.example",
    ),
    "exchange_receipt_litecoin": (
        "Deposit received",
        f"We received 2.5 LTC at your deposit address {LTC}. After 6 confirmations "
        "(about 15 minutes) the funds are available. Invite your contacts and earn "
        "rewards.",
        "noreply@exchange.example",
    ),
    "gift_card_shop_receipt": (
        "Your order #48213",
        "Thank you for your order! Steam gift card $50 x 2, Paysafecard 25 EUR x 1. "
        "Your codes are below. Paysafecard PIN: 1234 5678 9012 3456. Codes are "
        "delivered within 24 hours. Never share your codes with anyone who contacts you.",
        "shop@giftcards.example",
    ),
    "western_union_receipt": (
        "Your transfer is on its way",
        "You sent 200.00 EUR with Western Union. MTCN 1234567890. Your receiver can "
        "pick up the money within 2 hours. Share the MTCN only with the receiver.",
        "noreply@transfer.example",
    ),
    "telegram_support_page": (
        "How to reach our support",
        "Need help with your order? Write to our support on Telegram: @shop_helpdesk or "
        "on WhatsApp +31 6 87654321. We answer within 24 hours. You can also reply to "
        "this email.",
        "support@shop.example",
    ),
    "dating_notification": (
        "Anna sent you a message",
        "Anna (29) sent you a message and 3 new photos! Reply within 24 hours to keep "
        "the conversation going. Anna's profile: likes hiking, wine and long talks. "
        "Tip: add her on WhatsApp once you have met in person. Unsubscribe in settings.",
        "matches@dating.example",
    ),
    "it_security_training_webcam": (
        "Security training: your webcam",
        "This month's security training is about webcams. Attackers can turn on a "
        "webcam with malware such as a remote access trojan, and some send mails "
        "claiming they recorded you. Cover your camera, install updates, and reply to "
        "this mail within 48 hours to book a session. Report suspicious mail to the "
        "service desk.",
        "security-awareness@company.example",
    ),
    "awareness_newsletter_quote": (
        "Newsletter: a scam to know about",
        'This week many readers received a mail saying "I recorded you through your '
        'webcam and will send the video to your contacts". It is a scam: do not pay and '
        "do not reply. Report it to the police.",
        "newsletter@bank.example",
    ),
    "family_photos": (
        "Re: holiday",
        "Thanks for the photos you sent me! I will send them to the family tonight. "
        "Could you send me more pictures of the kids? Reply when you can.",
        "grandma@example.org",
    ),
    "school_sexting_advice": (
        "Online safety evening for parents",
        'Sextortion is rising among teenagers. A typical message reads: "I have the nude '
        'photos you sent me, pay or I send them to your friends". Tell your child: do '
        "not pay, keep the messages, and report it to the police.",
        "school@example.edu",
    ),
    "dating_flirty_notification": (
        "Someone likes your photos",
        "Sexy singles near you! Mia liked the photos you shared. Reply within 48 hours "
        "to unlock her private pictures, or invite your friends and get a free month.",
        "hello@dating.example",
    ),
    "webcam_training_third_person": (
        "Webcam awareness month",
        "Criminals send mails claiming they hacked your computer and recorded you through "
        "your webcam while you watched adult sites. They threaten that the video goes out "
        "to all your contacts unless you reply within 48 hours. Cover your camera and "
        "reply to this mail to book a session.",
        "security-awareness@company.example",
    ),
    "training_quotes_first_contact": (
        "Training: spot the fake",
        "A typical mail reads: 'I recorded you through your webcam while you were "
        "watching porn. Reply within 24 hours or the video goes out to all your "
        "contacts.' Forward such mails to the service desk.",
        "security-awareness@company.example",
    ),
    "wallet_app_bonus": (
        "Bonus week",
        f"Send 10 USDT to {TRON} within 24h and share photos with your contacts to win a bonus.",
        "promo@wallet.example",
    ),
    "awareness_cert_pl": (
        "Uwaga: oszustwo",
        "Uwaga na oszustwo! Przestępcy piszą: 'Nagrałem cię przez kamerkę, gdy oglądałeś "
        "strony dla dorosłych. Odpowiedz w ciągu 24 godzin, inaczej wyślę nagranie "
        "wszystkim twoim kontaktom.' Nie płać i nie odpowiadaj.",
        "info@example.org",
    ),
    "awareness_news_tr": (
        "Dolandırıcılık uyarısı",
        "Dolandırıcılık uyarısı: dolandırıcılar web kameranız üzerinden sizi "
        "kaydettiklerini, yetişkin sitelerini izlerken, iddia ediyor ve videoyu "
        "kişilerinize göndereceklerini söylüyor. Ödeme yapmayın.",
        "info@example.org",
    ),
    "support_page_sv": (
        "Kundtjänst",
        "Hej! Vår kundtjänst finns på WhatsApp +46 70 123 45 67 och Telegram "
        "@butik_support. Svara på detta mejl inom 24 timmar om du vill ändra din order. "
        "Familjepaket: dela bilder med dina kontakter.",
        "info@example.org",
    ),
    "dating_notification_de": (
        "Neue Nachricht",
        "Neue Nachricht von Lena! Sie hat dir private Fotos geschickt. Antworte innerhalb"
        " von 24 Stunden, sonst läuft das Match ab. Schreib ihr auf WhatsApp +49 151 "
        "1234567.",
        "info@example.org",
    ),
    "school_sexting_advice_nl": (
        "Ouderavond",
        "Beste ouders, sextortion neemt toe. Een typisch bericht: 'Ik heb de naaktfoto's "
        "die je me stuurde, betaal of ik stuur ze naar je vrienden.' Betaal niet en meld "
        "het bij de politie.",
        "info@example.org",
    ),
    "awareness_it": (
        "Attenzione alle truffe",
        'Circola una email che dice: "ti ho registrato tramite la webcam e invierò il '
        'video a tutti i tuoi contatti". È una truffa: non pagare e non rispondere.',
        "info@banca.example",
    ),
}


@pytest.mark.parametrize("name", sorted(HAMS))
def test_look_alike_is_accepted(scanner: Scanner, name: str) -> None:
    subject, body, sender = HAMS[name]
    verdict = scan(scanner, subject, body, sender)
    assert verdict.action is Action.ACCEPT, f"{name} is not a scam: {explain(verdict)}"


CHANNELS = [
    "Contact me on Telegram @silent_watcher77",
    "Write to https://t.me/occhio_nero",
    "Message me on WhatsApp +31 6 12345678",
    "Text me on Signal +49 151 23456789",
    "Buy Steam gift cards and send me the codes",
    "Pay with a Paysafecard PIN",
    "Send it by Western Union",
    f"Send 900 USDT (TRC20) to {TRON}",
    f"Send 5000 DOGE to {DOGE}",
    f"Send 8 SOL to {SOL}",
]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_alone_is_not_a_claim(scanner: Scanner, channel: str) -> None:
    """Each channel of the scams above, with an amount and a deadline but without the
    claims: what is left is a support page or an order, and is accepted."""
    verdict = scan(scanner, "Your order", f"{channel} within 24 hours about your $500 refund.")
    assert verdict.action is Action.ACCEPT, explain(verdict)


FORWARD_FRAME = (
    "Hi helpdesk, is this real? I got this last night. Should I pay?\n\nJan\n\n"
    "---------- Forwarded message ---------\nFrom: Unknown <x@example.net>\n"
    "Date: Fri, 4 Dec 2026 22:10\nSubject: {subject}\nTo: <jan@company.example>\n\n{body}\n"
)


@pytest.mark.parametrize("name", ["telegram_handle_en", "sexting_money_en", "lang_it"])
def test_helpdesk_forward_of_a_scam_is_not_held(scanner: Scanner, name: str) -> None:
    """An employee asks the helpdesk about a scam he received, forwarding it below his
    question: the scam is only quoted. It may be tagged, never held."""
    subject, body = SCAMS[name]
    forward = FORWARD_FRAME.format(subject=subject, body=body)
    verdict = scan(scanner, f"Fwd: {subject}", forward, "jan@company.example")
    assert not verdict.action.held, explain(verdict)
    # The same text, sent as the sender's own words, is held: the frame is what counts.
    assert scan(scanner, subject, body, "jan@company.example").action.held


TRAILERS = [
    "\n\nNo virus, phishing or fraud detected by our scanner.",
    "\n\n> Sextortion scam warning from your bank: do not pay.\n",
    "\n\n--\nThis message is confidential. Scams and phishing are reported to the police.",
]


@pytest.mark.parametrize("trailer", TRAILERS, ids=["antivirus", "quoted-warning", "disclaimer"])
@pytest.mark.parametrize(
    "name", ["first_contact_en", "sexting_money_en", "telegram_handle_en", "structure_finnish"]
)
def test_a_trailer_does_not_release_a_new_form(scanner: Scanner, name: str, trailer: str) -> None:
    """The warning and report filters read what the sender wrote: a footer or a quoted
    warning under the new forms never switches their rules off."""
    subject, body = ALL_SCAMS[name]
    verdict = scan(scanner, subject, body + trailer)
    assert verdict.action.held, f"{name} + trailer not held: {explain(verdict)}"
