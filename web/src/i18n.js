// The viewer's own labels in English, Russian and Kazakh; keys missing in a language fall back to
// English. Layer and group titles and the programme's figures come from the catalog
// (/viewer/layers.json), never from here.
const STRINGS = {
  en: {
    'app.title': 'Almaty Twin',
    'search.placeholder': 'Cadastral number, street or district',
    'search.none': 'Nothing found for “{q}”.',
    'search.searching': 'Searching…',
    'search.failed': 'Search failed: {error}',
    'search.plot': 'Plot', 'search.street': 'Street', 'search.district': 'District',
    'mode.explore': 'Explore', 'mode.fifteen': '15-minute city', 'mode.isochrone': 'Isochrone',
    'mode.scenario': 'Scenario', 'mode.indicators': 'Indicators',
    'panel.layers': 'Layers', 'panel.loading': 'Loading the catalog…', 'map.loading': 'Loading the city…',
    'panel.opacity': 'Opacity', 'panel.zoomin': 'Visible from zoom {z}',
    'explore.hint': 'Click any feature to see its attributes; a plot opens its full report.',
    'explore.title': 'Almaty in 3D',
    'explore.body': 'Terrain, buildings by height and every layer of the twin. Drag with the right mouse button (or Ctrl + drag) to tilt and rotate.',
    'card.loading': 'Loading…', 'card.report': 'Plot report', 'card.attributes': 'Attributes',
    'card.close': 'Close', 'card.noattrs': 'No attributes.',
    'fifteen.title': '15-minute city',
    'fifteen.colour': 'Colour the H3 cells by',
    'fifteen.count': 'Categories within 15 min',
    'fifteen.minutes': 'Walking minutes to {cat}',
    'fifteen.districts': 'Districts', 'fifteen.polycentres': 'Polycentres',
    'fifteen.allsix': 'Residents with all six within 15 min',
    'fifteen.nocells': 'The 15-minute cells are not published yet: run `twin analyse`.',
    'fifteen.hint': 'Click a cell for its minutes per category.',
    'iso.title': 'Walking isochrone',
    'iso.hint': 'Click the map to see where you can walk in 5, 10 and 15 minutes.',
    'iso.slope': 'Slope-aware (Tobler)', 'iso.flat': 'Flat 4.8 km/h', 'iso.lit': 'Lit streets only',
    'iso.amenities': 'Amenities inside', 'iso.none': 'No amenities within 15 minutes of this point.',
    'iso.empty': 'No walkable area around this point (is it on the street network?).',
    'iso.computing': 'Computing walking areas…', 'iso.minutes': '{m} min',
    'scn.title': 'What if we build…',
    'scn.hint': 'Choose what to place, then click the map. A park can also be drawn as a polygon (double-click to finish).',
    'scn.school': 'School', 'scn.clinic': 'Clinic', 'scn.shop': 'Shop', 'scn.park': 'Park',
    'scn.drawpark': 'Draw a park', 'scn.run': 'Recompute indicators', 'scn.clear': 'Clear',
    'scn.empty': 'Nothing placed yet.', 'scn.running': 'Recomputing…',
    'scn.current': 'Current', 'scn.after': 'Scenario', 'scn.delta': 'Change',
    'scn.cells': '{n} H3 cells change', 'scn.nochange': 'This scenario changes no indicator.',
    'scn.swipe': 'Swipe: current | scenario', 'scn.finish': 'Finish park',
    'ind.title': 'Programme targets and the twin’s figures',
    'ind.city': 'City', 'ind.districts': 'Districts', 'ind.polycentres': 'Polycentres',
    'ind.target': 'Target', 'ind.loading': 'Loading indicators…',
    'ind.unavailable': 'Indicators are not available: {error}',
    'err.server': 'The server answered {status}: {description}',
    'err.network': 'Cannot reach the twin ({error}).',
    'err.tiles': 'Vector tiles are not available ({error}); the map shows no city layers.',
    'err.terrain': 'Terrain tiles are not available ({error}); the map is flat.',
    'err.catalog': 'Cannot load the layer catalog: {error}',
    'err.webgl': 'This browser cannot draw the 3D map (WebGL is unavailable): {error}',
    'cat.education': 'education', 'cat.healthcare': 'healthcare', 'cat.commerce': 'commerce',
    'cat.culture_sport': 'culture and sport', 'cat.parks': 'parks', 'cat.transit': 'transit',
    'scene.download': '3D scene', 'scene.tooltip': 'Download the buildings and terrain of this view as glTF (GLB) for Blender, QGIS 3D or Cesium',
    'scene.building': 'Building the 3D scene of this view…',
    'scene.empty': 'No buildings in this view: move the map over the city to download a 3D scene.',
    'scene.refused': 'The 3D scene was refused ({status}): {description}',
    'scene.done': 'Downloaded {name} ({mb} MB).',
    'scene.done.clamped': 'Downloaded {name} ({mb} MB): the view was cut to {km} km around its centre ({w} km wide).',
    'yes': 'yes', 'no': 'no',
  },
  ru: {
    'app.title': 'Цифровой двойник Алматы',
    'search.placeholder': 'Кадастровый номер, улица или район',
    'search.none': 'По запросу «{q}» ничего не найдено.',
    'search.searching': 'Поиск…',
    'search.failed': 'Поиск не удался: {error}',
    'search.plot': 'Участок', 'search.street': 'Улица', 'search.district': 'Район',
    'mode.explore': 'Обзор', 'mode.fifteen': 'Город 15 минут', 'mode.isochrone': 'Изохрона',
    'mode.scenario': 'Сценарий', 'mode.indicators': 'Показатели',
    'panel.layers': 'Слои', 'panel.loading': 'Загрузка каталога…', 'map.loading': 'Загрузка города…',
    'panel.opacity': 'Прозрачность', 'panel.zoomin': 'Виден с масштаба {z}',
    'explore.hint': 'Щёлкните по объекту, чтобы увидеть его атрибуты; для участка — полный отчёт.',
    'explore.title': 'Алматы в 3D',
    'explore.body': 'Рельеф, здания по высоте и все слои двойника. Правая кнопка мыши (или Ctrl + перетаскивание) — наклон и поворот.',
    'card.loading': 'Загрузка…', 'card.report': 'Отчёт по участку', 'card.attributes': 'Атрибуты',
    'card.close': 'Закрыть', 'card.noattrs': 'Нет атрибутов.',
    'fifteen.title': 'Город 15 минут',
    'fifteen.colour': 'Раскрасить ячейки H3 по',
    'fifteen.count': 'Категории в пределах 15 мин',
    'fifteen.minutes': 'Минуты пешком до: {cat}',
    'fifteen.districts': 'Районы', 'fifteen.polycentres': 'Полицентры',
    'fifteen.allsix': 'Жители со всеми шестью категориями в 15 мин',
    'fifteen.nocells': 'Ячейки 15 минут ещё не опубликованы: выполните `twin analyse`.',
    'fifteen.hint': 'Щёлкните по ячейке, чтобы увидеть минуты по категориям.',
    'iso.title': 'Пешеходная изохрона',
    'iso.hint': 'Щёлкните по карте: куда можно дойти за 5, 10 и 15 минут.',
    'iso.slope': 'С учётом уклона (Тоблер)', 'iso.flat': 'Ровно, 4,8 км/ч', 'iso.lit': 'Только освещённые улицы',
    'iso.amenities': 'Объекты внутри', 'iso.none': 'В пределах 15 минут нет объектов.',
    'iso.empty': 'Вокруг этой точки нет пешеходной зоны (она на улично-дорожной сети?).',
    'iso.computing': 'Расчёт пешеходных зон…', 'iso.minutes': '{m} мин',
    'scn.title': 'Что, если построить…',
    'scn.hint': 'Выберите объект и щёлкните по карте. Парк можно нарисовать многоугольником (двойной щелчок — завершить).',
    'scn.school': 'Школа', 'scn.clinic': 'Поликлиника', 'scn.shop': 'Магазин', 'scn.park': 'Парк',
    'scn.drawpark': 'Нарисовать парк', 'scn.run': 'Пересчитать показатели', 'scn.clear': 'Очистить',
    'scn.empty': 'Пока ничего не размещено.', 'scn.running': 'Пересчёт…',
    'scn.current': 'Сейчас', 'scn.after': 'Сценарий', 'scn.delta': 'Изменение',
    'scn.cells': 'Изменилось ячеек H3: {n}', 'scn.nochange': 'Сценарий не меняет показатели.',
    'scn.swipe': 'Шторка: сейчас | сценарий', 'scn.finish': 'Завершить парк',
    'ind.title': 'Цели программы и показатели двойника',
    'ind.city': 'Город', 'ind.districts': 'Районы', 'ind.polycentres': 'Полицентры',
    'ind.target': 'Цель', 'ind.loading': 'Загрузка показателей…',
    'ind.unavailable': 'Показатели недоступны: {error}',
    'err.server': 'Сервер ответил {status}: {description}',
    'err.network': 'Нет связи с сервером ({error}).',
    'err.tiles': 'Векторные тайлы недоступны ({error}); слои города не показаны.',
    'err.terrain': 'Тайлы рельефа недоступны ({error}); карта плоская.',
    'err.catalog': 'Не удалось загрузить каталог слоёв: {error}',
    'err.webgl': 'Браузер не может показать 3D-карту (нет WebGL): {error}',
    'cat.education': 'образование', 'cat.healthcare': 'здравоохранение', 'cat.commerce': 'торговля',
    'cat.culture_sport': 'культура и спорт', 'cat.parks': 'парки', 'cat.transit': 'транспорт',
    'yes': 'да', 'no': 'нет',
    'scene.download': '3D-сцена', 'scene.tooltip': 'Скачать здания и рельеф этого вида в glTF (GLB) для Blender, QGIS 3D или Cesium',
    'scene.building': 'Собираем 3D-сцену этого вида…',
    'scene.empty': 'В этом виде нет зданий: переместите карту на город, чтобы скачать 3D-сцену.',
    'scene.refused': 'Сервер отказал в 3D-сцене ({status}): {description}',
    'scene.done': 'Скачано: {name} ({mb} МБ).',
    'scene.done.clamped': 'Скачано: {name} ({mb} МБ); вид обрезан до {km} км вокруг центра (ширина {w} км).',
  },
  kk: {
    'app.title': 'Алматының цифрлық егізі',
    'search.placeholder': 'Кадастрлық нөмір, көше немесе аудан',
    'search.none': '«{q}» бойынша ештеңе табылмады.',
    'search.plot': 'Учаске', 'search.street': 'Көше', 'search.district': 'Аудан',
    'mode.explore': 'Шолу', 'mode.fifteen': '15 минуттық қала', 'mode.isochrone': 'Изохрона',
    'mode.scenario': 'Сценарий', 'mode.indicators': 'Көрсеткіштер',
    'panel.layers': 'Қабаттар', 'panel.opacity': 'Мөлдірлік', 'map.loading': 'Қала жүктелуде…',
    'panel.loading': 'Каталог жүктелуде…', 'panel.zoomin': '{z} масштабынан бастап көрінеді',
    'explore.hint': 'Атрибуттарын көру үшін кез келген нысанды басыңыз; учаске толық есебін ашады.',
    'explore.body': 'Жер бедері, биіктігі бойынша ғимараттар және егіздің барлық қабаттары. Еңкейту мен бұру үшін тінтуірдің оң жақ батырмасымен (немесе Ctrl + сүйреу) сүйреңіз.',
    'explore.title': 'Алматы 3D форматында',
    'card.report': 'Учаске есебі', 'card.attributes': 'Атрибуттар',
    'fifteen.title': '15 минуттық қала', 'fifteen.districts': 'Аудандар',
    'iso.title': 'Жаяу изохрона', 'iso.minutes': '{m} мин',
    'scn.school': 'Мектеп', 'scn.clinic': 'Емхана', 'scn.shop': 'Дүкен', 'scn.park': 'Саябақ',
    'scn.current': 'Қазір', 'scn.after': 'Сценарий',
    'ind.city': 'Қала', 'ind.districts': 'Аудандар', 'ind.target': 'Мақсат',
    'cat.education': 'білім', 'cat.healthcare': 'денсаулық', 'cat.commerce': 'сауда',
    'cat.culture_sport': 'мәдениет және спорт', 'cat.parks': 'саябақтар', 'cat.transit': 'көлік',
    'yes': 'иә', 'no': 'жоқ',
    'scene.download': '3D көрініс', 'scene.tooltip': 'Осы көріністің ғимараттары мен жер бедерін glTF (GLB) ретінде жүктеу',
    'scene.building': 'Осы көріністің 3D сахнасы құрастырылуда…',
    'scene.empty': 'Бұл көріністе ғимарат жоқ: 3D сахнаны жүктеу үшін картаны қалаға жылжытыңыз.',
  },
};

let current = 'en';

export function setLang(lang) {
  current = STRINGS[lang] ? lang : 'en';
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of document.querySelectorAll('#lang button')) {
    el.classList.toggle('active', el.dataset.lang === current);
  }
  document.title = `${t('app.title')} — 3D`;
}

export function lang() { return current; }

export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** A layer's or a panel group's title in the current language (from /viewer/layers.json:
 * the catalog, layers/*.yml, holds every title in en, ru and kk). */
export function layerTitle(entry) {
  return entry.titles?.[current] || entry.title || entry.name;
}

export const groupTitle = layerTitle;

export function category(cat) { return t(`cat.${cat}`); }

/** A district's name in the current language from a feature's name_en / name_ru / name_kk. */
export function localName(props) {
  if (!props) return '';
  return props[`name_${current}`] ?? props.name_en ?? props.name ?? '';
}

export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value !== 'number') return String(value);
  const locale = current === 'en' ? 'en-GB' : current === 'ru' ? 'ru-RU' : 'kk-KZ';
  const max = Number.isInteger(value) ? 0 : digits;
  return value.toLocaleString(locale, { maximumFractionDigits: max });
}
