# ruff: noqa: RUF001 - imprints are written with full-width and typographic characters
"""Realistic imprint pages in German, English, French and Japanese, some of them with broken markup."""

GERMAN_IMPRESSUM = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Impressum | Bildwerk Nord</title></head>
<body>
<nav><ul><li><a href="/">Start</a></li><li><a href="/galerie">Galerie</a></li>
<li><a href="/impressum">Impressum</a></li><li><a href="/datenschutz">Datenschutz</a></li></ul></nav>
<main>
<h1>Impressum</h1>
<h2>Angaben gemäß § 5 DDG</h2>
<p>Bildwerk Nord GmbH &amp; Co. KG<br>
Speicherstraße 12a<br>
20457 Hamburg</p>
<p><strong>Vertreten durch:</strong><br>Dr. Anna Beispiel, Geschäftsführerin</p>
<h2>Kontakt</h2>
<p>Telefon: +49 (0)40 123 456-0<br>Telefax: +49 (0)40 123 456-99<br>
E-Mail: kontakt [at] bildwerk-nord [dot] de</p>
<h2>Registereintrag</h2>
<p>Eintragung im Handelsregister.<br>Registergericht: Amtsgericht Hamburg<br>Registernummer: HRA 123456</p>
<h2>Umsatzsteuer-ID</h2>
<p>Umsatzsteuer-Identifikationsnummer gemäß § 27 a Umsatzsteuergesetz:<br>DE 123 456 789</p>
<h2>Aufsichtsbehörde</h2><p>Handelskammer Hamburg, Adolphsplatz 1, 20457 Hamburg</p>
</main>
<footer><p>Webdesign: Pixel Agentur GmbH, 80331 München</p></footer>
</body></html>"""

AUSTRIAN_IMPRESSUM_BROKEN = """<html lang=de><body>
<div class=content><h2>Impressum
<p>Fotostudio Alpenblick e.U.
<p>Inhaber: Markus Huber<br>Mariahilfer Straße 45/3<br>1060 Wien
<p>Tel. +43 1 234 56 78
<p>E-Mail: <a href="mailto:office@alpenblick.at?subject=Anfrage">office@alpenblick.at</a>
<p>UID-Nr.: ATU12345678</b></i>
<p>Firmenbuchnummer: FN 123456a, Handelsgericht Wien
</div></span></table>
"""

ENGLISH_LEGAL_NOTICE = """<!doctype html><html lang="en-GB"><head><title>Legal notice</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Organization",
 "name": "Harbour Light Images", "url": "https://harbourlight.co.uk"}</script></head>
<body><header><a href="/legal-notice">Legal notice</a></header>
<article><h1>Legal notice</h1>
<p>This website is operated by Harbour Light Images Ltd, a company registered in England and Wales under
company number 09876543.</p>
<p>Registered office: 14 Quayside Road, Bristol BS1 4RN, United Kingdom</p>
<p>Phone: +44 117 496 0123 &middot; Email: hello(at)harbourlight(dot)co(dot)uk</p>
<p>VAT number: GB 123 4567 89</p>
</article></body></html>"""

FRENCH_MENTIONS = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Mentions légales</title>
</head><body>
<h1>Mentions légales</h1>
<h2>Éditeur du site</h2>
<p>Le site est édité par la société Lumière d'Azur SARL, au capital de 10 000 €,<br>
immatriculée au RCS de Nice sous le numéro RCS Nice B 812 345 678.</p>
<p>Siège social : 12, rue de la Buffa, 06000 Nice, France</p>
<p>Téléphone : 04 93 12 34 56</p>
<p>Courriel : contact@lumiere-azur.fr</p>
<p>N° TVA intracommunautaire : FR 40 812345678</p>
<p>Directeur de la publication : Claire Martin</p>
<h2>Hébergeur</h2>
<p>OVH SAS, 2 rue Kellermann, 59100 Roubaix, France</p>
</body></html>"""

JAPANESE_TOKUSHOHO = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<title>特定商取引法に基づく表記</title></head><body>
<h1>特定商取引法に基づく表記</h1>
<table class="law">
<tr><th>販売業者</th><td>株式会社サクラフォト</td></tr>
<tr><th>運営統括責任者</th><td>山田 太郎</td></tr>
<tr><th>所在地</th><td>〒150-0002 東京都渋谷区渋谷2-21-1 渋谷ヒカリエ 8F</td></tr>
<tr><th>電話番号</th><td>03-1234-5678</td></tr>
<tr><th>メールアドレス</th><td>info＠sakura-photo.jp</td></tr>
<tr><th>法人番号</th><td>1234567890123</td></tr>
<tr><th>販売価格</th><td>各商品ページに記載</td></tr>
</table></body></html>"""

JAPANESE_COMPANY_DL = """<html lang="ja"><body><h2>会社概要</h2>
<dl><dt>会社名</dt><dd>合同会社ミナト写真館</dd><dt>住所</dt><dd>〒530-0001<br>大阪府大阪市北区梅田1丁目1番3号</dd>
<dt>お問い合わせ</dt><dd>minato@example.co.jp</dd></dl></body></html>"""

SCHEMA_ONLY = """<html><head><script type="application/ld+json">
// <![CDATA[
{"@context":"https://schema.org","@graph":[
 {"@type":"WebSite","name":"Atelier"},
 {"@type":["LocalBusiness","Photographer"],"name":"Atelier Rive Gauche","legalName":"Atelier Rive Gauche SAS",
  "email":"mailto:bonjour@atelier-rg.fr","telephone":"+33 1 42 00 00 00","vatID":"FR83404833048",
  "address":{"@type":"PostalAddress","streetAddress":"8 rue Jacob","postalCode":"75006",
             "addressLocality":"Paris","addressCountry":"FR"},},
]}
// ]]>
</script></head><body><p>Bienvenue</p></body></html>"""

MICRODATA = """<html><body><div itemscope itemtype="https://schema.org/Organization">
<span itemprop="name">Nordlicht Media AG</span>
<div itemprop="address" itemscope itemtype="https://schema.org/PostalAddress">
<span itemprop="streetAddress">Königsallee 1</span>, <span itemprop="postalCode">40212</span>
<span itemprop="addressLocality">Düsseldorf</span></div>
<a itemprop="email" href="mailto:presse@nordlicht.example">Presse</a>
<span itemprop="telephone">+49 211 000000</span></div></body></html>"""

BLOG_POST = """<html lang="en"><body><h1>My trip to Kyoto</h1><p>Write to me at traveller@example.com!</p>
<p>We stayed near the station.</p></body></html>"""

FOOTER_LINKS = """<html><body>
<a href="/privacy">Privacy policy</a>
<a href="/about-us">About us</a>
<a href="/contact">Contact</a>
<a href="https://other.example.com/impressum">Impressum</a>
<a href="/legal/impressum.html#top">Impressum</a>
<a href="mailto:x@y.de">Mail</a>
<a href="javascript:void(0)">Impressum</a>
<a href="/company/">会社概要</a>
<a href="/law.html">特定商取引法に基づく表記</a>
<a href="/mentions-legales">Mentions légales</a>
<a href="https://facebook.com/legal">Legal</a>
</body></html>"""
