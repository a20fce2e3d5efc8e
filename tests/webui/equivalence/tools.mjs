// The JavaScript twin of adk-server's C++ function tool get_weather
// (demo/demo_tools.cpp, registered by name in adk::ToolRegistry): same
// declaration, same result, same state write (`destination`). The C++ tool
// also waits 400 ms (a simulated service); the wait changes no event, so the
// twin does not wait.
import {FunctionTool} from '@google/adk';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
                     'September', 'October', 'November', 'December'];

function monthNumber(text) {
  const m = String(text ?? '').trim().toLowerCase();
  const i = MONTHS.findIndex((n) => m.startsWith(n));
  if (i >= 0) return i + 1;
  const digits = /(\d{1,2})$/.exec(m);
  if (digits) {
    const n = Number(digits[1]);
    if (n >= 1 && n <= 12) return n;
  }
  return 0;
}

const season = (month) => (month === 0 ? 1 : (month % 12 - (month % 12) % 3) / 3);

const CLIMATES = {
  lisbon: {name: 'Lisbon', seasons: [
    [9, 15, 10, 'mild and showery, Atlantic wind'],
    [13, 22, 6, 'sunny spells, warm afternoons, cool evenings'],
    [18, 28, 1, 'hot and dry, clear skies'],
    [15, 23, 7, 'warm, the first rains arrive']]},
  kyoto: {name: 'Kyoto', seasons: [
    [0, 9, 6, 'cold and dry, occasional snow'],
    [10, 23, 11, 'mild, cherry blossom then fresh green, some rain'],
    [23, 33, 12, 'hot and humid, rainy season until mid-July'],
    [12, 24, 8, 'clear and crisp, autumn leaves']]},
  reykjavik: {name: 'Reykjavik', seasons: [
    [-3, 2, 14, 'dark, windy, snow and rain'],
    [2, 9, 11, 'changeable, long days return'],
    [9, 14, 10, 'cool, near-endless daylight'],
    [3, 9, 14, 'wet and windy, northern lights']]},
};
const GENERIC = [[2, 9, 10, 'cool, short days'], [9, 19, 9, 'mild, some showers'],
                 [18, 28, 6, 'warm, mostly sunny'], [10, 18, 10, 'mild, more rain']];

export const getWeather = new FunctionTool({
  name: 'get_weather',
  description: 'The usual weather of a city in a given month: temperatures, rainy days, a summary.',
  parameters: {
    type: 'object',
    properties: {
      city: {type: 'string', description: 'The city, e.g. Lisbon'},
      month: {type: 'string', description: 'The month of the trip, e.g. May'},
    },
    required: ['city', 'month'],
  },
  execute: async (args, toolContext) => {
    const city = String(args.city ?? '').trim();
    const month = monthNumber(args.month);
    const known = CLIMATES[city.split(',')[0].trim().toLowerCase()];
    const [low, high, rainy, summary] = known ? known.seasons[season(month)] : GENERIC[season(month)];
    const name = known ? known.name : city;
    toolContext.state.set('destination', name);
    return {city: name, month: month ? MONTH_NAMES[month] : 'any', low_c: low, high_c: high,
            rainy_days: rainy, summary};
  },
});
