"""Japanese vocabularies for the customer base and the corporate network (all invented combinations)."""

from __future__ import annotations


def _triples(text: str) -> tuple[tuple[str, str, str], ...]:
    """'漢字:カナ:romaji ...' -> ((漢字, カナ, romaji), ...)."""
    out = []
    for item in text.split():
        a, b, c = item.split(":")
        out.append((a, b, c))
    return tuple(out)

#: (kanji, katakana, romaji) of common surnames.
SURNAMES = _triples(
    "佐藤:サトウ:sato 鈴木:スズキ:suzuki 高橋:タカハシ:takahashi 田中:タナカ:tanaka 伊藤:イトウ:ito "
    "渡辺:ワタナベ:watanabe 山本:ヤマモト:yamamoto 中村:ナカムラ:nakamura 小林:コバヤシ:kobayashi "
    "加藤:カトウ:kato 吉田:ヨシダ:yoshida 山田:ヤマダ:yamada 佐々木:ササキ:sasaki 山口:ヤマグチ:yamaguchi "
    "松本:マツモト:matsumoto 井上:イノウエ:inoue 木村:キムラ:kimura 林:ハヤシ:hayashi 斎藤:サイトウ:saito "
    "清水:シミズ:shimizu 山崎:ヤマザキ:yamazaki 森:モリ:mori 池田:イケダ:ikeda 橋本:ハシモト:hashimoto "
    "阿部:アベ:abe 石川:イシカワ:ishikawa 山下:ヤマシタ:yamashita 中島:ナカジマ:nakajima 石井:イシイ:ishii "
    "小川:オガワ:ogawa 前田:マエダ:maeda 岡田:オカダ:okada 長谷川:ハセガワ:hasegawa 藤田:フジタ:fujita "
    "後藤:ゴトウ:goto 近藤:コンドウ:kondo 村上:ムラカミ:murakami 遠藤:エンドウ:endo 青木:アオキ:aoki "
    "坂本:サカモト:sakamoto 斉藤:サイトウ:saito 福田:フクダ:fukuda 太田:オオタ:ota 西村:ニシムラ:nishimura "
    "藤井:フジイ:fujii 金子:カネコ:kaneko 岡本:オカモト:okamoto 藤原:フジワラ:fujiwara 中野:ナカノ:nakano "
    "三浦:ミウラ:miura 原田:ハラダ:harada 中川:ナカガワ:nakagawa 松田:マツダ:matsuda 竹内:タケウチ:takeuchi "
    "小野:オノ:ono 田村:タムラ:tamura 中山:ナカヤマ:nakayama 和田:ワダ:wada 石田:イシダ:ishida "
    "森田:モリタ:morita 上田:ウエダ:ueda 原:ハラ:hara 内田:ウチダ:uchida 柴田:シバタ:shibata "
    "酒井:サカイ:sakai 宮崎:ミヤザキ:miyazaki 横山:ヨコヤマ:yokoyama 高木:タカギ:takagi 安藤:アンドウ:ando "
    "宮本:ミヤモト:miyamoto 大野:オオノ:ono 小島:コジマ:kojima 谷口:タニグチ:taniguchi 今井:イマイ:imai "
    "工藤:クドウ:kudo 高田:タカダ:takada 増田:マスダ:masuda 丸山:マルヤマ:maruyama 杉山:スギヤマ:sugiyama "
    "村田:ムラタ:murata 大塚:オオツカ:otsuka 新井:アライ:arai 小山:コヤマ:koyama 平野:ヒラノ:hirano "
    "藤本:フジモト:fujimoto 河野:コウノ:kono 上野:ウエノ:ueno 野口:ノグチ:noguchi 武田:タケダ:takeda "
    "松井:マツイ:matsui 千葉:チバ:chiba 岩崎:イワサキ:iwasaki 菅原:スガワラ:sugawara 木下:キノシタ:kinoshita "
    "久保:クボ:kubo 佐野:サノ:sano 野村:ノムラ:nomura 松尾:マツオ:matsuo 市川:イチカワ:ichikawa "
    "菊地:キクチ:kikuchi 杉本:スギモト:sugimoto 古川:フルカワ:furukawa 大西:オオニシ:onishi 島田:シマダ:shimada"
)

#: (kanji, katakana, romaji) of given names.
GIVEN_NAMES = _triples(
    "太郎:タロウ:taro 一郎:イチロウ:ichiro 健太:ケンタ:kenta 翔太:ショウタ:shota 大輔:ダイスケ:daisuke "
    "拓也:タクヤ:takuya 直樹:ナオキ:naoki 和也:カズヤ:kazuya 健一:ケンイチ:kenichi 誠:マコト:makoto "
    "浩:ヒロシ:hiroshi 剛:ツヨシ:tsuyoshi 隆:タカシ:takashi 亮:リョウ:ryo 大樹:ダイキ:daiki "
    "蓮:レン:ren 悠斗:ユウト:yuto 陽太:ヨウタ:yota 雄一:ユウイチ:yuichi 修:オサム:osamu "
    "聡:サトシ:satoshi 学:マナブ:manabu 博之:ヒロユキ:hiroyuki 正樹:マサキ:masaki 康介:コウスケ:kosuke "
    "花子:ハナコ:hanako 恵子:ケイコ:keiko 裕子:ユウコ:yuko 美穂:ミホ:miho 陽子:ヨウコ:yoko "
    "真由美:マユミ:mayumi 智子:トモコ:tomoko 直美:ナオミ:naomi 由美:ユミ:yumi 香織:カオリ:kaori "
    "愛:アイ:ai 彩:アヤ:aya 美咲:ミサキ:misaki 結衣:ユイ:yui 陽菜:ヒナ:hina "
    "さくら:サクラ:sakura 優子:ユウコ:yuko 明美:アケミ:akemi 理恵:リエ:rie 麻衣:マイ:mai "
    "舞:マイ:mai 綾香:アヤカ:ayaka 千尋:チヒロ:chihiro 奈々:ナナ:nana 沙織:サオリ:saori"
)

#: Company name stems: (kanji/kana text, katakana reading, romaji for mail domains).
COMPANY_STEMS = _triples(
    "東洋:トウヨウ:toyo 日本:ニホン:nihon 大和:ヤマト:yamato 三和:サンワ:sanwa 富士:フジ:fuji "
    "中央:チュウオウ:chuo 北海:ホッカイ:hokkai 関東:カントウ:kanto 新日本:シンニホン:shinnihon 第一:ダイイチ:daiichi "
    "東京:トウキョウ:tokyo 大阪:オオサカ:osaka 名古屋:ナゴヤ:nagoya 光:ヒカリ:hikari 未来:ミライ:mirai "
    "青葉:アオバ:aoba 桜:サクラ:sakura 旭:アサヒ:asahi 平和:ヘイワ:heiwa 太平洋:タイヘイヨウ:taiheiyo "
    "丸紅:マルベニ:marubeni 山田:ヤマダ:yamada 田中:タナカ:tanaka 鈴木:スズキ:suzuki 高橋:タカハシ:takahashi "
    "松本:マツモト:matsumoto 小林:コバヤシ:kobayashi 北陸:ホクリク:hokuriku 九州:キュウシュウ:kyushu "
    "四国:シコク:shikoku "
    "瀬戸内:セトウチ:setouchi 信州:シンシュウ:shinshu 湘南:ショウナン:shonan 銀河:ギンガ:ginga 日進:ニッシン:nisshin "
    "協和:キョウワ:kyowa 共栄:キョウエイ:kyoei 昭和:ショウワ:showa 大成:タイセイ:taisei 明治:メイジ:meiji "
    "アオイ:アオイ:aoi ミドリ:ミドリ:midori サンライズ:サンライズ:sunrise グローバル:グローバル:global "
    "ネクスト:ネクスト:next テクノ:テクノ:techno アクア:アクア:aqua エコー:エコー:echo "
    "ABC:エービーシー:abc NKS:エヌケーエス:nks JTS:ジェイティーエス:jts KDS:ケーディーエス:kds "
    "SMART:スマート:smart TRUST:トラスト:trust ONE:ワン:one BLUE:ブルー:blue"
)

#: (business word, katakana reading, romaji).
BUSINESS_WORDS = _triples(
    "商事:ショウジ:shoji 工業:コウギョウ:kogyo 電機:デンキ:denki 物産:ブッサン:bussan 製作所:セイサクショ:ss "
    "建設:ケンセツ:kensetsu 運輸:ウンユ:unyu 食品:ショクヒン:foods 化学:カガク:chemical 精機:セイキ:seiki "
    "不動産:フドウサン:fudosan システム:システム:system ソリューションズ:ソリューションズ:solutions "
    "テクノロジー:テクノロジー:tech ホールディングス:ホールディングス:hd 産業:サンギョウ:sangyo 興業:コウギョウ:kogyo "
    "通商:ツウショウ:tsusho 印刷:インサツ:printing 薬品:ヤクヒン:pharma 設計:セッケイ:sekkei 物流:ブツリュウ:logi "
    "電子:デンシ:denshi 情報サービス:ジョウホウサービス:is 開発:カイハツ:kaihatsu 商会:ショウカイ:shokai "
    "エンジニアリング:エンジニアリング:eng ネットワークス:ネットワークス:networks 医療:イリョウ:medical"
)

#: Legal forms as written in registries and forms (prefix or suffix) with the corporate-number kind code.
LEGAL_FORMS: tuple[tuple[str, str, str, float], ...] = (
    # (text, position 'pre'|'post', kind code for the corporate number, share)
    ("株式会社", "post", "01", 0.40),
    ("株式会社", "pre", "01", 0.28),
    ("（株）", "post", "01", 0.06),
    ("㈱", "pre", "01", 0.04),
    ("(株)", "post", "01", 0.03),
    ("有限会社", "post", "02", 0.08),
    ("有限会社", "pre", "02", 0.03),
    ("合同会社", "post", "05", 0.06),
    ("一般社団法人", "pre", "05", 0.02),
)
LEGAL_KANA = {"株式会社": "カブシキガイシャ", "有限会社": "ユウゲンガイシャ", "合同会社": "ゴウドウガイシャ",
              "一般社団法人": "イッパンシャダンホウジン"}

#: (prefecture, city/ward, postal prefix 3 digits, telephone area code, registry office code, weight).
LOCALITIES: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("東京都", "千代田区", "100", "03", "0100", 9), ("東京都", "中央区", "104", "03", "0100", 8),
    ("東京都", "港区", "105", "03", "0104", 9), ("東京都", "新宿区", "160", "03", "0111", 6),
    ("東京都", "渋谷区", "150", "03", "0110", 5), ("東京都", "品川区", "141", "03", "0107", 4),
    ("東京都", "江東区", "135", "03", "0106", 3), ("東京都", "八王子市", "192", "042", "0133", 2),
    ("神奈川県", "横浜市西区", "220", "045", "0200", 4), ("神奈川県", "川崎市川崎区", "210", "044", "0201", 2),
    ("埼玉県", "さいたま市大宮区", "330", "048", "0300", 3), ("千葉県", "千葉市中央区", "260", "043", "0400", 2),
    ("大阪府", "大阪市北区", "530", "06", "1200", 6), ("大阪府", "大阪市中央区", "541", "06", "1200", 5),
    ("愛知県", "名古屋市中区", "460", "052", "1800", 4), ("福岡県", "福岡市博多区", "812", "092", "2900", 3),
    ("北海道", "札幌市中央区", "060", "011", "4300", 3), ("宮城県", "仙台市青葉区", "980", "022", "3700", 2),
    ("広島県", "広島市中区", "730", "082", "2400", 2), ("京都府", "京都市下京区", "600", "075", "1300", 2),
    ("兵庫県", "神戸市中央区", "650", "078", "1400", 2), ("静岡県", "静岡市葵区", "420", "054", "0800", 1),
    ("新潟県", "新潟市中央区", "950", "025", "1100", 1), ("岡山県", "岡山市北区", "700", "086", "2600", 1),
    ("熊本県", "熊本市中央区", "860", "096", "3300", 1), ("沖縄県", "那覇市", "900", "098", "3600", 1),
)
TOWNS = ("本町", "栄町", "中町", "東町", "西町", "南町", "北町", "元町", "大手町", "丸の内", "駅前", "旭町",
         "若葉", "緑町", "桜台", "幸町", "新町", "錦町", "昭和町", "城東")
BUILDINGS = ("ビル", "センタービル", "タワー", "第一ビル", "第二ビル", "スクエア", "ビジネスセンター", "会館")
INDUSTRIES = ("製造業", "卸売業", "小売業", "建設業", "情報通信業", "運輸業", "金融業", "不動産業", "医療・福祉",
              "教育・学習支援", "宿泊・飲食", "サービス業", "公務")
DEPARTMENTS = ("情報システム部", "総務部", "経理部", "営業部", "管理部", "経営企画部", "IT推進室", "人事総務課",
               "ネットワーク管理課", "購買部")
MAIL_TLDS = (".co.jp", ".co.jp", ".co.jp", ".jp", ".com", ".ne.jp")
FREE_MAIL = ("gmail.com", "yahoo.co.jp", "outlook.jp", "icloud.com")
MOBILE_PREFIXES = ("090", "080", "070")
